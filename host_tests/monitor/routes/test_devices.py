"""Provisioning: keys and tokens shown once, never again; people and devices."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from host_tests.support.monitor import Env
from monitor.models import Device, Gateway
from protocol import frame_types as ft
from protocol import frames


def test_provisioned_key_is_shown_once_and_works_and_is_never_returned_again(env: Env) -> None:
    admin = env.token("admin")
    r = env.client.post(
        "/v1/devices", headers=admin, json={"board": "devkitc-mpu6050", "firmware_version": "0.1.0"}
    )
    assert r.status_code == 201
    key_hex = r.json()["key"]
    dev = r.json()["device"]["id"]
    assert len(bytes.fromhex(key_hex)) == 16
    # The key verifies a test frame end to end (what `vigil provision` checks).
    f = frames.encode(ft.TEST, dev, 1, (100, 0, 0), bytes.fromhex(key_hex)).hex()
    [res] = env.post_frames({"frame": f, "received_at": dt.datetime.now(dt.UTC).isoformat()})
    assert res["status"] == "accepted"
    for path in ("/v1/devices", f"/v1/devices/{dev}", "/openapi.json"):
        assert key_hex not in env.client.get(path, headers=admin).text
    with env.app.state.db.session() as s:
        sealed = s.get(Device, dev).key_sealed  # type: ignore[union-attr]
        assert bytes.fromhex(key_hex) not in sealed  # encrypted at rest


def test_reprovisioning_needs_replace_and_then_issues_a_new_key(env: Env) -> None:
    admin = env.token("admin")
    body = {"board": "m5stickc-plus2", "device_id": 4242}
    first = env.client.post("/v1/devices", headers=admin, json=body)
    again = env.client.post("/v1/devices", headers=admin, json=body)
    assert again.status_code == 409 and "--force" in again.json()["message"]
    forced = env.client.post("/v1/devices", headers=admin, json={**body, "replace": True})
    assert forced.status_code == 201 and forced.json()["key"] != first.json()["key"]


def test_operators_cannot_provision(env: Env) -> None:
    r = env.client.post("/v1/devices", headers=env.token(), json={"board": "x"})
    assert r.status_code == 403


def test_gateway_token_is_shown_once_stored_hashed_and_works(env: Env) -> None:
    admin = env.token("admin")
    r = env.client.post("/v1/gateways", headers=admin, json={"name": "van 3"})
    token = r.json()["token"]
    assert token not in env.client.get("/v1/gateways", headers=admin).text
    with env.app.state.db.session() as s:
        hashes = list(s.scalars(select(Gateway.token_hash)))
    assert token not in hashes
    h = {"Authorization": f"Bearer {token}"}
    assert env.client.get("/v1/downlink", headers=h).status_code == 200
    gid = r.json()["gateway"]["id"]
    env.client.post(f"/v1/gateways/{gid}/revoke", headers=admin)
    assert env.client.get("/v1/downlink", headers=h).status_code == 401


def test_workers_with_escalation_contacts_and_device_assignment(env: Env) -> None:
    admin = env.token("admin")
    w = env.client.post(
        "/v1/workers",
        headers=admin,
        json={
            "name": "Kim Lee",
            "phone": "+44 1",
            "team": "Night patrol",
            "risk_notes": "Diabetic",
        },
    )
    assert w.status_code == 201
    wid = w.json()["id"]
    r = env.client.put(
        f"/v1/workers/{wid}/contacts",
        headers=admin,
        json=[
            {"name": "Supervisor", "webhook_url": "http://127.0.0.1:9/hook", "delay_s": 30},
            {"name": "Manager", "webhook_url": "http://127.0.0.1:9/hook2", "delay_s": 120},
        ],
    )
    assert [c["name"] for c in r.json()["contacts"]] == ["Supervisor", "Manager"]
    d = env.client.post("/v1/devices", headers=admin, json={"board": "m5stickc-plus2"}).json()
    r = env.client.patch(f"/v1/devices/{d['device']['id']}", headers=admin, json={"worker_id": wid})
    assert r.json()["worker"]["name"] == "Kim Lee"
    assert env.client.get(f"/v1/workers/{wid}", headers=env.token()).json()["devices"] == [
        d["device"]["id"]
    ]


def test_errors_are_json_with_a_message(env: Env) -> None:
    r = env.client.get("/v1/alarms/999999", headers=env.token())
    assert r.status_code == 404
    assert r.json() == {
        "error": "not_found",
        "message": "alarm 999999 does not exist",
        "alarm_id": 999999,
    }
