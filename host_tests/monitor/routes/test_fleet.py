"""The fob fleet over the API on SQLite and PostgreSQL: the spare pool, assigning, swapping
(a running check-in moves with the worker), returning, and settings sent to a fob, including a
heartbeat interval that supervision takes up without raising a false "device offline"."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select

from host_tests.support.monitor import DEVICE_KEY, Env, frame_item, heartbeat
from monitor.models import AuditEntry, Device, Downlink
from monitor.services import supervision
from protocol import frame_types as ft
from protocol import frames

SEEDED_FOB = 7


def _spare(env: Env, admin: dict[str, str], device_id: int) -> None:
    r = env.client.post(
        "/v1/devices", headers=admin, json={"board": "m5stickc-plus2", "device_id": device_id}
    )
    assert r.status_code == 201, r.text


def _spares(env: Env, admin: dict[str, str]) -> int:
    return sum(
        1
        for d in env.client.get("/v1/devices", headers=admin).json()
        if not d["allocated"] and not d["revoked"]
    )


def _post(env: Env, h: dict[str, str], path: str, **body: Any) -> Any:
    return env.client.post(f"/v1/devices{path}", headers=h, json=body)


def test_a_spare_is_assigned_swapped_and_returned_with_the_pool_counted(env: Env) -> None:
    admin = env.token("admin")
    _spare(env, admin, 21)
    _spare(env, admin, 22)
    assert _spares(env, admin) == 2
    worker = env.seeded.worker_id
    # The seeded fob is on a check-in: a swap carries it, a return is refused.
    env.post_frames(frame_item(ft.CHECKIN_START, 1, (45, 0)))
    refused = _post(env, admin, f"/{SEEDED_FOB}/return")
    assert refused.status_code == 409 and "check-in" in refused.json()["message"]
    due = env.client.get(f"/v1/devices/{SEEDED_FOB}", headers=admin).json()["checkin_due_at"]
    assert due is not None

    r = _post(env, admin, f"/{SEEDED_FOB}/swap", spare_id=21)
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["id"] == 21 and new["worker"]["id"] == worker and new["checkin_due_at"] == due
    old = env.client.get(f"/v1/devices/{SEEDED_FOB}", headers=admin).json()
    assert old["worker"] is None and old["checkin_due_at"] is None
    assert _spares(env, admin) == 2  # 22 and the returned seeded fob

    # Not a spare, already a spare, unknown: clear refusals that change nothing.
    assert _post(env, admin, "/21/assign", worker_id=worker).status_code == 409
    assert _post(env, admin, f"/{SEEDED_FOB}/return").status_code == 409
    assert _post(env, admin, "/999/assign", worker_id=worker).status_code == 404
    assert _post(env, admin, "/22/assign", worker_id=99999).status_code == 404
    assert _post(env, admin, "/22/assign", worker_id="x").status_code == 422

    assert _post(env, admin, "/22/assign", worker_id=worker).json()["worker"]["id"] == worker
    # The check-in still runs on 21, so it cannot go back yet; 22 can.
    assert _post(env, admin, "/21/return").status_code == 409
    assert _post(env, admin, "/22/return").status_code == 200
    assert _spares(env, admin) == 2
    with env.app.state.db.session() as s:
        actions = [
            (e.action, e.subject, json.loads(e.details or "{}"))
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
            if e.action.startswith("device_")
        ]
    swapped = {"worker_id": worker, "replacement": 21}
    assert ("device_swapped", f"device:{SEEDED_FOB}", swapped) in actions
    assert [(a, subj) for a, subj, _ in actions[-2:]] == [
        ("device_assigned", "device:22"),
        ("device_returned", "device:22"),
    ]


def test_a_revoked_fob_is_neither_a_spare_nor_assignable(env: Env) -> None:
    admin = env.token("admin")
    _spare(env, admin, 23)
    assert _post(env, admin, "/23/revoke").status_code == 200
    assert _spares(env, admin) == 0
    r = _post(env, admin, "/23/assign", worker_id=env.seeded.worker_id)
    assert r.status_code == 409 and "revoked" in r.json()["message"]
    swap = _post(env, admin, f"/{SEEDED_FOB}/swap", spare_id=23)
    assert swap.status_code == 409
    assert env.client.get(f"/v1/devices/{SEEDED_FOB}", headers=admin).json()["worker"]


def _commands(env: Env) -> list[tuple[int, int, int]]:
    """The COMMAND downlinks queued for the seeded fob, verified with its key as the fob will."""
    out = []
    with env.app.state.db.session() as s:
        for row in s.scalars(select(Downlink).order_by(Downlink.id)):
            f = frames.decode(row.frame, DEVICE_KEY)
            if f.ftype == ft.COMMAND:
                out.append(tuple(f.fields))
    return out


def test_settings_are_signed_commands_the_fob_can_verify(env: Env) -> None:
    admin = env.token("admin")
    r = _post(
        env, admin, f"/{SEEDED_FOB}/settings", heartbeat_s=120, covert=True, checkin_min=90,
        no_motion_s=0,
    )  # fmt: skip
    assert r.status_code == 202, r.text
    assert _commands(env) == [
        (ft.CMD_SET_HEARTBEAT, 0, 120),
        (ft.CMD_SET_COVERT, 1, 0),
        (ft.CMD_SET_CHECKIN_MIN, 0, 90),
        (ft.CMD_SET_NO_MOTION, 0, 0),
    ]
    for bad in ({}, {"heartbeat_s": 5}, {"checkin_min": 0}, {"covert": "maybe"}):
        got = _post(env, admin, f"/{SEEDED_FOB}/settings", **bad)
        assert got.status_code in (409, 422), (bad, got.text)
    assert len(_commands(env)) == 4  # nothing more queued by the refusals
    assert _post(env, admin, "/4444/settings", heartbeat_s=60).status_code == 404


def _supervise(env: Env, at: dt.datetime) -> list[int]:
    with env.app.state.db.session() as s:
        return supervision.supervise(s, env.app.state.settings, now=at)


def _interval(env: Env) -> tuple[int, int | None]:
    with env.app.state.db.session() as s:
        d = s.get(Device, SEEDED_FOB)
        assert d is not None
        return (d.heartbeat_interval_s or env.app.state.settings.heartbeat_interval_s), (
            d.heartbeat_pending_s
        )


def test_a_slower_heartbeat_raises_no_false_offline_alarm(env: Env) -> None:
    """Before issue 16 the monitor kept judging by 60 s: a fob told to beat every 300 s was
    "offline" after 180 s of the silence it had been asked for."""
    admin = env.token("admin")
    beats = env.app.state.settings.heartbeat_grace_beats
    assert _post(env, admin, f"/{SEEDED_FOB}/settings", heartbeat_s=300).status_code == 202
    assert _interval(env) == (300, None)  # longer: taken up at once
    # Frames relayed late carry their own times (the monitor clamps future ones to now), so the
    # fob's next 15 minutes are played as the last 15.
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    for n in range(4):  # the fob beats every 300 s, as told
        at = t0 + dt.timedelta(seconds=300 * n)
        env.post_frames(heartbeat(10 + n, received_at=at))
        assert _supervise(env, at + dt.timedelta(seconds=299)) == []
    last = t0 + dt.timedelta(seconds=900)
    # It still goes offline when it truly falls silent, by the new interval.
    assert _supervise(env, last + dt.timedelta(seconds=300 * beats - 5)) == []
    assert len(_supervise(env, last + dt.timedelta(seconds=300 * beats + 5))) == 1


def test_a_faster_heartbeat_is_taken_up_once_the_fob_beats_at_it(env: Env) -> None:
    """Judging a fob that has not yet heard the command by the shorter interval would raise a
    false offline alarm; it is adopted when two heartbeats show the new pace.

    Faked: the send time is moved an hour back (one UPDATE) so the fob's heartbeats after it
    can be relayed with past times instead of the test waiting 12 minutes."""
    admin = env.token("admin")
    beats = env.app.state.settings.heartbeat_grace_beats
    assert _post(env, admin, f"/{SEEDED_FOB}/settings", heartbeat_s=600).status_code == 202
    assert _post(env, admin, f"/{SEEDED_FOB}/settings", heartbeat_s=30).status_code == 202
    assert _interval(env) == (600, 30)
    listed = env.client.get(f"/v1/devices/{SEEDED_FOB}", headers=admin).json()
    assert (listed["supervised_interval_s"], listed["pending_interval_s"]) == (600, 30)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with env.app.state.db.session() as s:
        d = s.get(Device, SEEDED_FOB)
        assert d is not None and d.heartbeat_pending_since is not None
        d.heartbeat_pending_since = t0 - dt.timedelta(seconds=1)
        s.commit()
    # Still on the old pace (the command not delivered yet): no alarm, nothing adopted.
    env.post_frames(heartbeat(20, received_at=t0))
    env.post_frames(heartbeat(21, received_at=t0 + dt.timedelta(seconds=600)))
    assert _supervise(env, t0 + dt.timedelta(seconds=600 + 30 * beats + 60)) == []
    assert _interval(env) == (600, 30)
    # The fob applied it: two heartbeats 30 s apart.
    t1 = t0 + dt.timedelta(seconds=700)
    env.post_frames(heartbeat(22, received_at=t1))
    env.post_frames(heartbeat(23, received_at=t1 + dt.timedelta(seconds=30)))
    assert _interval(env) == (30, None)
    last = t1 + dt.timedelta(seconds=30)
    assert len(_supervise(env, last + dt.timedelta(seconds=30 * beats + 5))) == 1
