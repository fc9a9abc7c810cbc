"""POST /v1/devices/{id}/test: the provisioning self-test accepts only this device's signed TEST
frame, and never lets an alarm frame in through the admin's hands."""

from __future__ import annotations

from sqlalchemy import func, select

from host_tests.support.monitor import DEVICE_ID, DEVICE_KEY, Env
from monitor.models import Alarm, Device
from protocol import frame_types as ft
from protocol import frames


def _post(env: Env, device_id: int, frame: bytes) -> dict:
    r = env.client.post(
        f"/v1/devices/{device_id}/test", json={"frame": frame.hex()}, headers=env.token("admin")
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_signed_test_frame_is_verified_and_recorded(env: Env) -> None:
    res = _post(env, DEVICE_ID, frames.encode(ft.TEST, DEVICE_ID, 500, (90, 0, 0), DEVICE_KEY))
    assert res["status"] == "accepted"
    with env.app.state.db.session() as s:
        assert s.get(Device, DEVICE_ID).test_ok_at is not None


def test_forged_test_frame_is_rejected(env: Env) -> None:
    res = _post(env, DEVICE_ID, frames.encode(ft.TEST, DEVICE_ID, 501, (90, 0, 0), bytes(16)))
    assert (res["status"], res["reason"]) == ("rejected", "bad_tag")


def test_an_sos_sent_as_a_test_raises_no_alarm(env: Env) -> None:
    res = _post(env, DEVICE_ID, frames.encode(ft.SOS, DEVICE_ID, 502, (90, 0, 0), DEVICE_KEY))
    assert res["status"] == "rejected"
    with env.app.state.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Alarm)) == 0


def test_operators_cannot_run_it(env: Env) -> None:
    frame = frames.encode(ft.TEST, DEVICE_ID, 503, (90, 0, 0), DEVICE_KEY)
    r = env.client.post(
        f"/v1/devices/{DEVICE_ID}/test", json={"frame": frame.hex()}, headers=env.token("operator")
    )
    assert r.status_code == 403
