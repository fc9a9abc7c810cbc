"""Supervision without HTTP: offline after the grace period, overdue check-ins, restarts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from host_tests.support.monitor import Env, frame_item, heartbeat, make_settings
from monitor.api.main import create_app
from monitor.models import Alarm
from monitor.services import supervision
from protocol import frame_types as ft

INTERVAL = 60  # the settings' default heartbeat interval


def _supervise(env: Env, at: dt.datetime) -> list[int]:
    with env.app.state.db.session() as s:
        return supervision.supervise(s, env.app.state.settings, now=at)


def _alarms(env: Env) -> list[Alarm]:
    with env.app.state.db.session() as s:
        return list(s.scalars(select(Alarm).order_by(Alarm.id)))


def test_device_offline_after_three_missed_beats_and_cleared_when_it_returns(env: Env) -> None:
    t0 = dt.datetime.now(dt.UTC)
    env.post_frames(heartbeat(1, received_at=t0))
    assert _supervise(env, t0 + dt.timedelta(seconds=3 * INTERVAL - 1)) == []
    [aid] = _supervise(env, t0 + dt.timedelta(seconds=3 * INTERVAL + 1))
    assert _supervise(env, t0 + dt.timedelta(seconds=10 * INTERVAL)) == []  # not twice
    [a] = _alarms(env)
    assert (a.id, a.kind, a.status) == (aid, "device_offline", "open")
    assert a.raised_at == t0 + dt.timedelta(seconds=3 * INTERVAL)
    env.post_frames(heartbeat(2))
    [a] = _alarms(env)
    assert (a.status, a.outcome) == ("resolved", "device_returned")


def test_overdue_check_in_raises_once_with_last_location(env: Env) -> None:
    # In the past: received_at ahead of the monitor's clock would be clamped to now.
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    here = {"lat": 53.48, "lon": -2.24, "accuracy_m": 30.0}
    env.post_frames(frame_item(ft.CHECKIN_START, 1, (15, 0), received_at=t0, location=here))
    env.post_frames(heartbeat(2, received_at=t0 + dt.timedelta(minutes=14)))
    assert _supervise(env, t0 + dt.timedelta(minutes=14)) == []
    [aid] = _supervise(env, t0 + dt.timedelta(minutes=15, seconds=1))
    assert _supervise(env, t0 + dt.timedelta(minutes=16)) == []
    [a] = _alarms(env)
    assert a.kind == "checkin_overdue" and (a.lat, a.lon) == (53.48, -2.24)


def test_check_out_in_time_raises_nothing(env: Env) -> None:
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    env.post_frames(frame_item(ft.CHECKIN_START, 1, (15, 0), received_at=t0))
    env.post_frames(frame_item(ft.CHECKIN_STOP, 2, (90, 0, 0), received_at=t0))
    env.post_frames(heartbeat(3, received_at=t0 + dt.timedelta(minutes=20)))
    assert _supervise(env, t0 + dt.timedelta(minutes=20)) == []


def test_supervision_state_survives_a_restart(env: Env, db_url: str) -> None:
    t0 = dt.datetime.now(dt.UTC)
    env.post_frames(heartbeat(1, received_at=t0))
    _supervise(env, t0 + dt.timedelta(seconds=200))
    # A second process on the same database: no duplicate alarm, nothing forgotten.
    again = create_app(make_settings(db_url))
    with again.state.db.session() as s:
        assert (
            supervision.supervise(s, again.state.settings, now=t0 + dt.timedelta(seconds=400)) == []
        )
    again.state.db.engine.dispose()
    assert [a.kind for a in _alarms(env)] == ["device_offline"]


def test_spare_devices_are_not_supervised(env: Env) -> None:
    admin = env.token("admin")
    d = env.client.post("/v1/devices", headers=admin, json={"board": "m5stickc-plus2"}).json()
    key = bytes.fromhex(d["key"])
    t0 = dt.datetime.now(dt.UTC)
    env.post_frames(
        heartbeat(1, device_id=d["device"]["id"], key=key, received_at=t0),
        heartbeat(1, received_at=t0),
    )
    assert _supervise(env, t0 + dt.timedelta(hours=1)) != []  # the seeded, allocated fob only
    assert {a.device_id for a in _alarms(env)} == {7}
