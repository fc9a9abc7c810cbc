"""Issue 11, findings 1, 4 and 5: what a broken or hostile gateway adds to a genuine frame.

Only the 20-byte frame is signed. Everything else in a relayed item (received_at, location,
rssi, link) is the gateway's word, so a bad value there must cost that value, counted, and
never the fob's alarm, the rest of the batch, or the operators' view of every other alarm.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from host_tests.support.monitor import Env, heartbeat, sos
from monitor.services import ingest

HOSTILE_LOCATIONS: list[Any] = [
    {"lat": 1e999, "lon": -1e999},  # the probe's own: JSON's 1e999 parses as infinity
    {"lat": float("nan"), "lon": 0.0},
    {"lat": 91.0, "lon": 0.0},
    {"lat": 0.0, "lon": -180.5},
    {"lat": 51.5, "lon": -0.1, "accuracy_m": -1},
    {"lat": 51.5, "lon": -0.1, "accuracy_m": 1e12},
    {"lat": 51.5, "lon": -0.1, "accuracy_m": float("inf")},
    {"lat": "51.5; DROP TABLE alarms", "lon": 0},
    {"lat": 51.5},
    [51.5, -0.1],
    "here",
]


def _post_raw(env: Env, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Python's json writes inf/nan as Infinity/NaN, which is what a hostile client can send
    # (and 1e999 reads back as inf): the monitor must take this text, not a cleaned-up copy.
    body = json.dumps({"frames": items})
    r = env.client.post(
        "/v1/frames", content=body, headers={**env.gw, "Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def _rejections(env: Env) -> dict[str, int]:
    r = env.client.get("/v1/reports/rejections", headers=env.token("admin"))
    return {k: v["count"] for k, v in r.json().items()}


@pytest.mark.parametrize("location", HOSTILE_LOCATIONS, ids=repr)
def test_finding_1_a_location_off_the_earth_is_dropped_counted_and_the_sos_kept(
    env: Env, location: Any
) -> None:
    [r] = _post_raw(env, [{**sos(1), "location": location}])
    assert (r["status"], r["flags"]) == ("accepted", ["bad_location"])
    assert r["ack"] is not None  # the fob's alarm is stored: it may stop resending
    h = env.token()
    active = env.client.get("/v1/alarms?status=active", headers=h)
    assert active.status_code == 200  # before the fix: a 500, Infinity is not JSON
    [alarm] = active.json()
    assert alarm["kind"] == "sos" and alarm["location"] is None
    assert _rejections(env)["bad_location"] == 1


def test_finding_1_a_good_location_is_kept_and_labelled_as_the_gateways(env: Env) -> None:
    here = {"lat": -90.0, "lon": 180.0, "accuracy_m": 0.0}  # the edges are on Earth
    [r] = _post_raw(env, [{**sos(1), "location": here}])
    assert (r["status"], r["flags"]) == ("accepted", [])
    [alarm] = env.client.get("/v1/alarms", headers=env.token()).json()
    assert alarm["location"] == here and alarm["location_source"] == "gateway"


CRAFTED_TIMES: list[Any] = [
    "0001-01-01T00:00:00+01:00",  # the probe's: converting to UTC overflowed, a 500
    "9999-12-31T23:59:59-01:00",
    "2001-09-09T01:46:40+00:00",
    "2026-01-01T00:00:00",  # no zone: whose clock?
    "yesterday",
    12345,
    None,
    "9" * 5000,
]


@pytest.mark.parametrize("received_at", CRAFTED_TIMES, ids=lambda v: repr(v)[:40])
def test_finding_4_one_crafted_timestamp_costs_that_field_not_the_batch(
    env: Env, received_at: Any
) -> None:
    crafted = {**heartbeat(1), "received_at": received_at}
    results = _post_raw(env, [crafted, sos(2)])
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    assert results[0]["flags"] in (["bad_received_at"], ["clamped_received_at"])
    assert results[1]["flags"] == []
    [alarm] = env.client.get("/v1/alarms", headers=env.token()).json()
    assert alarm["kind"] == "sos"
    counts = _rejections(env)
    assert counts.get("bad_received_at", 0) + counts.get("clamped_received_at", 0) == 1


def test_finding_4_a_missing_received_at_keeps_the_alarm_on_the_monitors_clock(env: Env) -> None:
    item = sos(1)
    del item["received_at"]
    before = dt.datetime.now(dt.UTC)
    [r] = _post_raw(env, [item])
    assert (r["status"], r["flags"]) == ("accepted", ["bad_received_at"])
    [alarm] = env.client.get("/v1/alarms", headers=env.token()).json()
    assert alarm["received_at_clamped"] is True
    assert dt.datetime.fromisoformat(alarm["received_at"]) >= before - dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("field", "value", "flag"),
    [
        ("rssi", 10**30, "bad_rssi"),  # PostgreSQL's integer overflowed: the batch failed
        ("rssi", "-70", "bad_rssi"),
        ("rssi", 1e999, "bad_rssi"),
        ("link", "carrier-pigeon", "bad_link"),
        ("link", {"x": 1}, "bad_link"),
    ],
)
def test_finding_4_other_unsigned_fields_are_checked_the_same_way(
    env: Env, field: str, value: Any, flag: str
) -> None:
    results = _post_raw(env, [{**heartbeat(1), field: value}, sos(2)])
    assert [(r["status"], r["flags"]) for r in results] == [
        ("accepted", [flag]),
        ("accepted", []),
    ]
    assert _rejections(env)[flag] == 1


def test_finding_4_a_forged_frame_counts_once_whatever_else_is_wrong_with_it(env: Env) -> None:
    forged = {**sos(1), "frame": sos(1)["frame"][:-2] + "00", "location": {"lat": 1e999}}
    [r] = _post_raw(env, [forged])
    assert (r["status"], r["reason"]) == ("rejected", "bad_tag")
    assert _rejections(env) == {"bad_tag": 1}


def test_finding_5_a_back_dated_alarm_is_clamped_flagged_and_does_not_stretch_time_to_ack(
    env: Env,
) -> None:
    """The probe's case: received_at from 2001 gave a time to acknowledge of 796,160,800 s and
    moved the report's median from 19 s to 78 s."""
    back = dt.datetime(2001, 9, 9, 1, 46, 40, tzinfo=dt.UTC)
    results = _post_raw(env, [sos(1, received_at=back), sos(2, received_at=None)])
    assert results[0]["flags"] == ["clamped_received_at"]
    h = env.token()
    alarms = env.client.get("/v1/alarms", headers=h).json()
    clamped = [a for a in alarms if a["received_at_clamped"]]
    assert len(clamped) == 1
    assert dt.datetime.fromisoformat(clamped[0]["received_at"]).year >= 2026
    for a in alarms:
        r = env.client.post(f"/v1/alarms/{a['id']}/acknowledge", headers=h)
        assert r.status_code == 200, r.text
        assert 0 <= r.json()["time_to_ack_s"] < 60
    report = env.client.get("/v1/reports/answer-times", headers=h)
    assert report.status_code == 200, report.text
    [sos_times] = report.json()["by_kind"]
    assert sos_times["median_s"] < 60


def test_finding_5_time_to_ack_is_from_the_monitors_clock_even_for_a_believed_gateway_time(
    env: Env,
) -> None:
    # Three days in the gateway's queue is believed (within MAX_RELAY_DELAY) and shown as such,
    # but what the operators are measured on starts when the monitor had the alarm.
    held = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    assert ingest.MAX_RELAY_DELAY > dt.timedelta(days=3)
    [r] = _post_raw(env, [sos(1, received_at=held)])
    assert r["flags"] == []
    h = env.token()
    [a] = env.client.get("/v1/alarms", headers=h).json()
    assert a["received_at_clamped"] is False
    assert dt.datetime.fromisoformat(a["received_at"]) == held
    assert dt.datetime.fromisoformat(a["stored_at"]) - held > dt.timedelta(days=2)
    ack = env.client.post(f"/v1/alarms/{a['id']}/acknowledge", headers=h).json()
    assert 0 <= ack["time_to_ack_s"] < 60
