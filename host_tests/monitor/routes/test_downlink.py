"""GET /v1/downlink: each gateway gets the downlinks of the fobs it serves, and none too old.

Finding 2 of issue 11: any gateway token could long-poll every fob's ACK_HELPs, and the age
limit lived only in the honest gateway. Real app, real SQLite (and PostgreSQL with -m postgres),
real signed frames."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from host_tests.support.monitor import DEVICE_ID, DEVICE_KEY, Env, frame_item, heartbeat, sos
from monitor.models import Downlink
from monitor.services import downlinks
from protocol import frame_types as ft
from protocol import frames


def _second_gateway(env: Env) -> dict[str, str]:
    csrf = env.login("admin")
    r = env.client.post("/v1/gateways", json={"name": "second site"}, headers=csrf)
    assert r.status_code == 201, r.text
    env.client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _poll(env: Env, gw: dict[str, str], after: int = 0) -> tuple[list[frames.Frame], int]:
    r = env.client.get("/v1/downlink", params={"after": after, "wait": 0}, headers=gw)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    got = [frames.decode(bytes.fromhex(i["frame"]), DEVICE_KEY, ft.DOWNLINK) for i in body["items"]]
    return got, int(body["cursor"])


def _acknowledge_sos(env: Env, counter: int, gw: dict[str, str] | None = None) -> None:
    r = env.client.post("/v1/frames", json={"frames": [sos(counter)]}, headers=gw or env.gw)
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "accepted"
    h = env.token()
    [alarm] = env.client.get("/v1/alarms", headers=h).json()
    assert env.client.post(f"/v1/alarms/{alarm['id']}/acknowledge", headers=h).status_code == 200


def test_finding_2_a_gateway_gets_no_downlinks_for_fobs_it_does_not_serve(env: Env) -> None:
    other = _second_gateway(env)  # a valid gateway token that has never heard this fob
    _acknowledge_sos(env, 12)
    got, cursor = _poll(env, other)
    assert got == []
    assert cursor > 0  # it looked past them: it does not rescan other fobs' downlinks
    [help_] = _poll(env, env.gw)[0]  # the gateway that heard the fob gets the ACK_HELP
    assert help_.ftype == ft.ACK_HELP and help_.fields == (12,) and help_.device_id == DEVICE_ID


def test_finding_2_a_fob_that_moves_gateway_still_gets_its_pending_ack_help(env: Env) -> None:
    other = _second_gateway(env)
    _acknowledge_sos(env, 12)  # heard through the first gateway, which then loses the fob
    got, cursor = _poll(env, other)
    assert got == []
    r = env.client.post("/v1/frames", json={"frames": [heartbeat(13)]}, headers=other)
    assert r.status_code == 200  # the fob is now heard through the second gateway
    got, _ = _poll(env, other, cursor)  # past the old cursor: the downlink moved with the fob
    assert [(f.ftype, f.fields) for f in got] == [(ft.ACK_HELP, (12,))]
    assert _poll(env, env.gw)[0] == []  # the first gateway no longer gets it


def test_finding_2_the_monitor_serves_no_downlink_older_than_its_limit(env: Env) -> None:
    other = _second_gateway(env)
    _acknowledge_sos(env, 12)
    old = dt.datetime.now(dt.UTC) - downlinks.MAX_AGE - dt.timedelta(seconds=5)
    with env.app.state.db.session() as s:
        s.execute(update(Downlink).values(created_at=old))
        s.commit()
    assert _poll(env, env.gw)[0] == []  # a gateway that held it back cannot have it served late
    env.client.post("/v1/frames", json={"frames": [heartbeat(13)]}, headers=other)
    assert _poll(env, other)[0] == []  # nor is it moved to another gateway


def test_help_for_a_coalesced_alarm_also_names_its_newest_repeat(env: Env) -> None:
    # The fob stays quiet about help for an alarm followed by a newer one still waiting, and a
    # second overdue check-in is coalesced into the open alarm: the ACK_HELP must name it too.
    env.post_frames(frame_item(ft.CHECKIN_OVERDUE, 20, (80, 0, 0)))
    env.post_frames(frame_item(ft.CHECKIN_OVERDUE, 25, (80, 0, 0)))
    h = env.token()
    [alarm] = env.client.get("/v1/alarms", headers=h).json()
    assert env.client.post(f"/v1/alarms/{alarm['id']}/acknowledge", headers=h).status_code == 200
    got, _ = _poll(env, env.gw)
    assert [(f.ftype, f.fields) for f in got] == [(ft.ACK_HELP, (20,)), (ft.ACK_HELP, (25,))]


# -- issue 15: "help is coming" only where help is coming ----------------------------------------


def _acknowledge_all(env: Env) -> None:
    h = env.token()
    for alarm in env.client.get("/v1/alarms", headers=h).json():
        r = env.client.post(f"/v1/alarms/{alarm['id']}/acknowledge", headers=h)
        assert r.status_code == 200, r.text


def test_acknowledging_a_low_battery_alarm_sends_a_plain_ack_not_help(env: Env) -> None:
    env.post_frames(frame_item(ft.LOW_BATTERY, 40, (9, 0, 0)))
    _acknowledge_all(env)
    assert [(f.ftype, f.fields) for f in _poll(env, env.gw)[0]] == [(ft.ACK, (40,))]


def test_acknowledging_every_alarm_help_comes_for_sends_ack_help(env: Env) -> None:
    env.post_frames(
        sos(50),
        frame_item(ft.FALL, 51, (70, 35, 0)),
        frame_item(ft.NO_MOTION, 52, (70, 0, 0)),
        frame_item(ft.CHECKIN_OVERDUE, 53, (70, 0, 0)),
    )
    _acknowledge_all(env)
    got = sorted((f.ftype, f.fields) for f in _poll(env, env.gw)[0])
    assert got == [(ft.ACK_HELP, (c,)) for c in (50, 51, 52, 53)]


def test_a_fob_reboot_resends_help_for_help_alarms_only(env: Env) -> None:
    env.post_frames(sos(60), frame_item(ft.LOW_BATTERY, 61, (8, 0, 0)))
    _acknowledge_all(env)
    _got, cursor = _poll(env, env.gw)
    # The first heartbeat after power-on carries HB_BOOTED.
    env.post_frames(frame_item(ft.HEARTBEAT, 200, (90, ft.HB_BOOTED, 0, 1)))
    again = [(f.ftype, f.fields) for f in _poll(env, env.gw, cursor)[0]]
    assert again == [(ft.ACK_HELP, (60,))]
