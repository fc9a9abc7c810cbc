"""Alarm lifecycle over the API: acknowledge (ACK_HELP downlink), resolve, cancel, audit."""

from __future__ import annotations

from host_tests.support.monitor import DEVICE_ID, DEVICE_KEY, Env, frame_item, sos
from protocol import frame_types as ft
from protocol import frames


def _downlinks(env: Env, after: int = 0) -> list[frames.Frame]:
    r = env.client.get(f"/v1/downlink?after={after}&wait=0", headers=env.gw)
    assert r.status_code == 200
    return [
        frames.decode(bytes.fromhex(i["frame"]), DEVICE_KEY, ft.DOWNLINK) for i in r.json()["items"]
    ]


def test_acknowledge_queues_a_signed_ack_help_and_records_time_to_ack(env: Env) -> None:
    env.post_frames(sos(12))
    h = env.token()
    [alarm] = env.client.get("/v1/alarms", headers=h).json()
    r = env.client.post(f"/v1/alarms/{alarm['id']}/acknowledge", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "acknowledged" and body["time_to_ack_s"] >= 0
    [dl] = _downlinks(env)
    assert dl.ftype == ft.ACK_HELP and dl.fields == (12,) and dl.device_id == DEVICE_ID


def test_help_is_said_again_when_the_fob_reboots_while_the_alarm_is_handled(env: Env) -> None:
    # An ACK_HELP delivered while the fob was losing power was never shown, and fobs do not
    # confirm it: their first heartbeat after a boot brings it again, once per handled alarm.
    env.post_frames(sos(12))
    h = env.token()
    [alarm] = env.client.get("/v1/alarms", headers=h).json()
    assert env.client.post(f"/v1/alarms/{alarm['id']}/acknowledge", headers=h).status_code == 200
    env.post_frames(frame_item(ft.HEARTBEAT, 13, (90, 0, 0, 0)))  # ordinary beat: nothing new
    assert [d.ftype for d in _downlinks(env)] == [ft.ACK_HELP]
    env.post_frames(frame_item(ft.HEARTBEAT, 80, (90, ft.HB_BOOTED, 0, 0)))  # after a reboot
    first, again = _downlinks(env)
    assert again.ftype == ft.ACK_HELP and again.fields == (12,) and again.counter > first.counter
    detail = env.client.get(f"/v1/alarms/{alarm['id']}", headers=h).json()
    assert "help_resent_after_reboot" in str(detail)
    r = env.client.post(
        f"/v1/alarms/{alarm['id']}/resolve", json={"outcome": "help_sent"}, headers=h
    )
    assert r.status_code == 200
    env.post_frames(frame_item(ft.HEARTBEAT, 81, (90, ft.HB_BOOTED, 0, 0)))
    assert [d.ftype for d in _downlinks(env)][2:] == [ft.ACK_RESOLVED]  # resolved: no more help


def test_second_acknowledge_is_a_conflict_not_a_silent_success(env: Env) -> None:
    env.post_frames(sos(1))
    h = env.token()
    aid = env.client.get("/v1/alarms", headers=h).json()[0]["id"]
    assert env.client.post(f"/v1/alarms/{aid}/acknowledge", headers=h).status_code == 200
    r = env.client.post(f"/v1/alarms/{aid}/acknowledge", headers=h)
    assert r.status_code == 409 and r.json()["error"] == "invalid_transition"


def test_resolve_records_outcome_notes_audit_and_ack_resolved(env: Env) -> None:
    env.post_frames(sos(3))
    h = env.token()
    aid = env.client.get("/v1/alarms", headers=h).json()[0]["id"]
    env.client.post(f"/v1/alarms/{aid}/acknowledge", headers=h)
    r = env.client.post(
        f"/v1/alarms/{aid}/resolve",
        headers=h,
        json={"outcome": "help_sent", "notes": "Security attended"},
    )
    assert r.status_code == 200
    a = r.json()
    assert (a["status"], a["outcome"], a["notes"]) == ("resolved", "help_sent", "Security attended")
    assert [e["action"] for e in a["timeline"]] == ["raised", "acknowledged", "resolved"]
    assert [e["actor"] for e in a["timeline"]] == [
        f"device:{DEVICE_ID}",
        "user:operator",
        "user:operator",
    ]
    assert [d.ftype for d in _downlinks(env)] == [ft.ACK_HELP, ft.ACK_RESOLVED]
    assert env.client.get("/v1/alarms", headers=h).json() == []
    bad = env.client.post(f"/v1/alarms/{aid}/resolve", headers=h, json={"outcome": "help_sent"})
    assert bad.status_code == 409


def test_unknown_outcome_is_a_clear_422(env: Env) -> None:
    env.post_frames(sos(3))
    h = env.token()
    aid = env.client.get("/v1/alarms", headers=h).json()[0]["id"]
    r = env.client.post(f"/v1/alarms/{aid}/resolve", headers=h, json={"outcome": "meh"})
    assert r.status_code == 422


def test_fob_cancel_is_attached_not_deleted_even_when_it_overtakes_the_alarm(env: Env) -> None:
    h = env.token()
    # Cancel (counter 21, delta 1 -> cancels 20) relayed before its alarm by a faster gateway.
    env.post_frames(frame_item(ft.SOS_CANCEL, 21, (1, 0)))
    env.post_frames(sos(20))
    [a] = env.client.get("/v1/alarms", headers=h).json()
    assert a["cancelled_at"] is not None and a["status"] == "open"
    # And in the usual order for another alarm.
    env.post_frames(sos(30), frame_item(ft.SOS_CANCEL, 31, (1, 0)))
    alarms = env.client.get("/v1/alarms", headers=h).json()
    assert len(alarms) == 2 and all(x["cancelled_at"] for x in alarms)
    detail = env.client.get(f"/v1/alarms/{alarms[0]['id']}", headers=h).json()
    assert "cancelled_at_fob" in [e["action"] for e in detail["timeline"]]


def test_alarm_detail_carries_worker_profile_and_risk_notes(env: Env) -> None:
    env.post_frames(sos(1, location={"lat": 52.2, "lon": 0.12, "accuracy_m": 8.0}))
    h = env.token()
    aid = env.client.get("/v1/alarms", headers=h).json()[0]["id"]
    d = env.client.get(f"/v1/alarms/{aid}", headers=h).json()
    assert d["worker_profile"]["name"] == "Sam Rivera"
    assert "inhaler" in d["worker_profile"]["risk_notes"]
    assert d["device"]["last_location"]["lat"] == 52.2


def test_queue_orders_highest_priority_then_newest(env: Env) -> None:
    env.post_frames(
        frame_item(ft.LOW_BATTERY, 1, (9, 0, 0)), sos(2), frame_item(ft.FALL, 3, (70, 0, 0))
    )
    kinds = [a["kind"] for a in env.client.get("/v1/alarms", headers=env.token()).json()]
    assert kinds == ["sos", "fall", "low_battery"]


def test_console_session_needs_csrf_header_for_changes(env: Env) -> None:
    env.post_frames(sos(1))
    csrf = env.login()
    aid = env.client.get("/v1/alarms").json()[0]["id"]
    r = env.client.post(f"/v1/alarms/{aid}/acknowledge")
    assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
    r = env.client.post(f"/v1/alarms/{aid}/acknowledge", headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    assert env.client.post(f"/v1/alarms/{aid}/acknowledge", headers=csrf).status_code == 200


def test_incident_filed_on_resolved_alarm_appears_in_report(env: Env) -> None:
    env.post_frames(sos(1))
    h = env.token()
    aid = env.client.get("/v1/alarms", headers=h).json()[0]["id"]
    r = env.client.post(f"/v1/alarms/{aid}/incident", headers=h, json={"type": "verbal_abuse"})
    assert r.status_code == 409  # not resolved yet
    env.client.post(f"/v1/alarms/{aid}/resolve", headers=h, json={"outcome": "help_sent"})
    r = env.client.post(f"/v1/alarms/{aid}/incident", headers=h, json={"type": "verbal_abuse"})
    assert r.status_code == 201
    rep = env.client.get("/v1/reports/incidents", headers=h).json()
    assert rep["total"] == 1 and rep["by_type"] == {"verbal_abuse": 1}
    assert rep["by_team"] == {"Housing visits": 1}
