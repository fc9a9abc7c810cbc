"""POST /v1/frames: the contract with gateways, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from host_tests.support.monitor import DEVICE_ID, DEVICE_KEY, Env, frame_item, heartbeat, sos
from monitor.models import AuditEntry
from protocol import frame_types as ft
from protocol import frames


def _ack(result: dict[str, object]) -> frames.Frame:
    assert isinstance(result["ack"], str)
    return frames.decode(bytes.fromhex(result["ack"]), DEVICE_KEY, ft.DOWNLINK)


def test_accepted_frame_gets_an_ack_signed_with_the_device_key(env: Env) -> None:
    [r] = env.post_frames(sos(1))
    assert r["status"] == "accepted" and r["reason"] is None
    assert (r["device_id"], r["counter"]) == (DEVICE_ID, 1)
    ack = _ack(r)
    assert ack.ftype == ft.ACK and ack.fields == (1,)


def test_duplicate_via_another_gateway_gets_a_fresh_ack_and_one_alarm(env: Env) -> None:
    item = sos(5)
    first = env.post_frames(item)[0]
    second = env.post_frames(item)[0]
    assert second["status"] == "duplicate"
    # A fresh downlink counter, or the fob's replay window would drop the second ack.
    assert _ack(second).counter > _ack(first).counter
    h = env.token()
    alarms = env.client.get("/v1/alarms", headers=h).json()
    assert [a["kind"] for a in alarms] == ["sos"]


def test_bad_frames_are_rejected_per_frame_and_never_fail_the_batch(env: Env) -> None:
    good = sos(3)
    forged = frame_item(ft.SOS, 4, (80, 0, 0), key=bytes(16))
    unknown = frame_item(ft.SOS, 1, (80, 0, 0), device_id=999)
    downlink = {**good, "frame": frames.encode(ft.ACK, DEVICE_ID, 9, (1,), DEVICE_KEY).hex()}
    results = env.post_frames(
        {"frame": "not hex"},
        forged,
        {**good, "frame": good["frame"][:-4]},
        unknown,
        downlink,
        {**good, "frame": "e0" + good["frame"][2:]},
        good,
    )
    assert [(r["status"], r["reason"]) for r in results] == [
        ("rejected", "malformed"),
        ("rejected", "bad_tag"),
        ("rejected", "bad_length"),
        ("rejected", "unknown_device"),
        ("rejected", "wrong_direction"),
        ("rejected", "unknown_type"),
        ("accepted", None),
    ]
    assert all(r["ack"] is None for r in results[:-1])
    counts = env.client.get("/v1/reports/rejections", headers=env.token("admin")).json()
    assert counts["malformed"]["count"] == 1
    assert counts["bad_tag"]["count"] == 1 and counts["bad_tag"]["last_device_id"] == DEVICE_ID


def test_counter_reused_with_different_content_is_rejected_as_replayed(env: Env) -> None:
    assert env.post_frames(sos(10, battery=80))[0]["status"] == "accepted"
    [r] = env.post_frames(sos(10, battery=40))
    assert (r["status"], r["reason"]) == ("rejected", "replayed")


def test_counter_behind_the_window_is_rejected_as_stale(env: Env) -> None:
    env.post_frames(heartbeat(200))
    [r] = env.post_frames(heartbeat(100))
    assert (r["status"], r["reason"]) == ("rejected", "stale")
    # Inside the window and new: accepted (late relay, reordered).
    assert env.post_frames(heartbeat(190))[0]["status"] == "accepted"


def test_an_alarm_held_across_two_reboots_is_taken_behind_the_window_exactly_once(
    env: Env,
) -> None:
    """Found by the fault suite: an SOS held in the fob's flash while the link was down, then two
    reboots (each moves the counter on a block of 64) and their heartbeats delivered first, put
    the SOS behind the replay window; it was refused as stale on every resend: lost."""
    env.post_frames(heartbeat(320), heartbeat(384), heartbeat(448))
    [r] = env.post_frames(sos(257, age_s=40))
    assert (r["status"], r["flags"]) == ("accepted", ["behind_window"])
    assert r["ack"] is not None  # the fob may let it go now
    [again] = env.post_frames(sos(257, age_s=50))  # a resend after a lost ack
    assert again["status"] == "duplicate" and again["ack"] is not None
    [other] = env.post_frames(sos(257, battery=10))  # same counter, other content
    assert (other["status"], other["reason"]) == ("rejected", "replayed")
    alarms = env.client.get("/v1/alarms", headers=env.token()).json()
    assert [a["kind"] for a in alarms] == ["sos"]


def test_revoked_device_is_rejected(env: Env) -> None:
    admin = env.token("admin")
    assert env.client.post(f"/v1/devices/{DEVICE_ID}/revoke", headers=admin).status_code == 200
    [r] = env.post_frames(sos(1))
    assert (r["status"], r["reason"]) == ("rejected", "revoked_device")


def test_raised_at_is_received_minus_age_and_location_travels_with_alarms_only(env: Env) -> None:
    # An hour ago: within the window a gateway's clock is believed (ingest.MAX_RELAY_DELAY).
    received = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    here = {"lat": 51.5, "lon": -0.12, "accuracy_m": 15.0}
    env.post_frames(
        heartbeat(1, received_at=received, location={"lat": 1.0, "lon": 1.0, "accuracy_m": 5}),
        frame_item(ft.SOS, 2, (0x80 | 55, 0, 90), received_at=received, location=here),
    )
    h = env.token()
    [alarm] = env.client.get("/v1/alarms", headers=h).json()
    assert alarm["raised_at"] == (received - dt.timedelta(seconds=90)).isoformat()
    assert alarm["received_at"] == received.isoformat()
    assert alarm["received_at_clamped"] is False and alarm["location_source"] == "gateway"
    assert alarm["age_lower_bound"] is True and alarm["battery_pct"] == 55
    assert alarm["location"] == here
    device = env.client.get(f"/v1/devices/{DEVICE_ID}", headers=h).json()
    assert device["battery_pct"] == 55


def test_heartbeat_updates_battery_and_last_seen(env: Env) -> None:
    env.post_frames(heartbeat(1, battery=42))
    d = env.client.get(f"/v1/devices/{DEVICE_ID}", headers=env.token()).json()
    assert d["battery_pct"] == 42 and d["last_seen_at"] is not None
    assert env.client.get("/v1/alarms", headers=env.token()).json() == []


def test_only_gateways_may_post_frames(env: Env) -> None:
    body = {"frames": [sos(1)]}
    assert env.client.post("/v1/frames", json=body).status_code == 401
    r = env.client.post("/v1/frames", json=body, headers=env.token("admin"))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


def test_gateway_token_cannot_read_alarms(env: Env) -> None:
    assert env.client.get("/v1/alarms", headers=env.gw).status_code == 403


def test_gateway_health_is_recorded(env: Env) -> None:
    body = {
        "links": [
            {"device_id": DEVICE_ID, "link": "serial", "port": "/dev/pts/3", "connected": True}
        ],
        "queue_depth": 4,
        "version": "0.1.0",
    }
    assert env.client.post("/v1/gateways/health", json=body, headers=env.gw).status_code == 204
    [g] = env.client.get("/v1/gateways", headers=env.token("admin")).json()
    assert g["queue_depth"] == 4 and g["links"][0]["port"] == "/dev/pts/3"


def test_a_revoked_gateway_still_calling_is_counted_once_per_interval_and_audited_once(
    env: Env,
) -> None:
    """The refusal stays a 401; what the supervisor reads is when it last called and how often
    (monitor/services/refused.py), one attempt per COUNT_EVERY, one audit entry."""
    admin = env.token("admin")
    gw = env.client.get("/v1/gateways", headers=admin).json()[0]
    r = env.client.post(f"/v1/gateways/{gw['id']}/revoke", headers=admin)
    assert r.status_code == 200, r.text
    for _ in range(3):
        r = env.client.post("/v1/frames", json={"frames": [sos(1)]}, headers=env.gw)
        assert r.status_code == 401
    after = {g["id"]: g for g in env.client.get("/v1/gateways", headers=admin).json()}
    assert after[gw["id"]]["refused_attempts"] == 1  # three calls inside one interval
    assert after[gw["id"]]["refused_at"] is not None
    with env.app.state.db.session() as s:
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "revoked_credential_still_calling")
        ).all()
    assert len(entries) == 1


def test_a_batch_of_nothing_but_bad_items_is_still_counted(env: Env) -> None:
    """No frame in it parses, so nothing is applied: its rejections are counted all the same."""
    results = env.post_frames({"frame": "not hex"}, {"frame": "00"}, {"nope": 1})
    assert [r["reason"] for r in results] == ["malformed", "bad_length", "malformed"]
    counts = env.client.get("/v1/reports/rejections", headers=env.token("admin")).json()
    assert counts["malformed"]["count"] == 2 and counts["bad_length"]["count"] == 1
