"""POST /v1/frames/binary: the packed batch (protocol/relay_batch.py), on SQLite and PostgreSQL.

It shares ingest with the JSON endpoint once parsed, so these check what is its own: the
packing of the unsigned fields, the packed answer, and bodies that do not add up being refused
whole with nothing applied.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from host_tests.support.monitor import DEVICE_ID, DEVICE_KEY, Env, frame_item, heartbeat, sos
from monitor.models import FrameRecord
from monitor.services.ingest import MAX_BATCH
from protocol import frame_types as ft
from protocol import frames
from protocol import relay_batch as rb

PACKED = {"Content-Type": "application/octet-stream"}


def pack(*items: dict[str, Any], base: dt.datetime | None = None) -> bytes:
    """frame_item dicts, as a relay would pack them: each time as its age behind `base`."""
    base = base or dt.datetime.now(dt.UTC)
    base_ms = int(base.timestamp() * 1000)
    out = []
    for i in items:
        heard = dt.datetime.fromisoformat(i["received_at"]) if i.get("received_at") else None
        age = None if heard is None else base_ms - int(heard.timestamp() * 1000)
        out.append((bytes.fromhex(i["frame"]), age, i.get("link"), i.get("rssi"), i["location"]))
    return rb.encode_request(out, base_ms)


def post_packed(env: Env, body: bytes, count: int) -> list[tuple[str, str | None, bytes | None]]:
    r = env.client.post("/v1/frames/binary", content=body, headers={**env.gw, **PACKED})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    return rb.decode_reply(r.content, count)


def test_an_sos_packed_is_acked_and_raised_when_it_was_heard_with_its_position(env: Env) -> None:
    heard = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=20)
    here = {"lat": 51.5, "lon": -0.12, "accuracy_m": 15.0, "source": "phone_gps", "fix_age_s": 4}
    item = frame_item(ft.SOS, 3, (0x80 | 55, 0, 30), received_at=heard, location=here)
    [(status, reason, ack)] = post_packed(env, pack(item), 1)
    assert (status, reason) == ("accepted", None)
    assert ack is not None
    signed = frames.decode(ack, DEVICE_KEY, ft.DOWNLINK)
    assert signed.ftype == ft.ACK and signed.fields == (3,)
    [alarm] = env.client.get("/v1/alarms", headers=env.token()).json()
    assert alarm["received_at"] == heard.isoformat()
    assert alarm["raised_at"] == (heard - dt.timedelta(seconds=30)).isoformat()
    assert alarm["received_at_clamped"] is False
    assert alarm["location"] == {"lat": 51.5, "lon": -0.12, "accuracy_m": 15.0}
    assert alarm["battery_pct"] == 55


def test_packed_results_match_the_json_endpoints_for_the_same_kinds_of_frame(env: Env) -> None:
    forged = frame_item(ft.SOS, 4, (80, 0, 0), key=bytes(16))
    unknown = frame_item(ft.SOS, 1, (80, 0, 0), device_id=999)
    downlink = {**sos(5), "frame": frames.encode(ft.ACK, DEVICE_ID, 9, (1,), DEVICE_KEY).hex()}
    bad_type = {**sos(6), "frame": "e0" + sos(6)["frame"][2:]}
    body = pack(heartbeat(1), forged, unknown, downlink, bad_type, sos(7), sos(7))
    got = post_packed(env, body, 7)
    assert [(s, r) for s, r, _ in got] == [
        ("accepted", None),
        ("rejected", "bad_tag"),
        ("rejected", "unknown_device"),
        ("rejected", "wrong_direction"),
        ("rejected", "unknown_type"),
        ("accepted", None),
        ("duplicate", None),  # the same frame twice in one batch: stored once, acked twice
    ]
    assert [a is not None for _, _, a in got] == [True, False, False, False, False, True, True]
    # Then the JSON endpoint sees what the packed one stored: the same path, the same state.
    [again] = env.post_frames(sos(7))
    assert again["status"] == "duplicate"
    counts = env.client.get("/v1/reports/rejections", headers=env.token("admin")).json()
    assert counts["bad_tag"]["count"] == 1 and counts["unknown_device"]["count"] == 1


def test_unbelievable_unsigned_fields_are_flagged_and_the_frame_still_taken(env: Env) -> None:
    base_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    raw = [bytes.fromhex(sos(n)["frame"]) for n in (1, 2, 3, 4)]
    year_ago = 365 * 86_400_000
    body = bytearray(
        rb.encode_request(
            [
                (raw[0], None, "ble", -60, None),  # no time: our clock, flagged
                (raw[1], year_ago, "ble", -60, None),  # a year old: clamped, flagged
                (raw[2], 0, "serial", 100, None),  # no such RSSI
                (raw[3], 0, None, None, {"lat": 91.0, "lon": 0.0}),  # off the Earth
            ],
            base_ms,
        )
    )
    body[rb.HEADER_LEN + rb.RECORD_LEN - 2] = 9  # the first record's link code: no such link
    got = post_packed(env, bytes(body), 4)
    assert [s for s, _, _ in got] == ["accepted"] * 4
    counts = env.client.get("/v1/reports/rejections", headers=env.token("admin")).json()
    for flag in ("bad_received_at", "clamped_received_at", "bad_rssi", "bad_link", "bad_location"):
        assert counts[flag]["count"] == 1, flag
    alarms = env.client.get("/v1/alarms", headers=env.token()).json()
    assert sum(a["received_at_clamped"] for a in alarms) == 2
    assert all(a["location"] is None for a in alarms)


def _bodies() -> dict[str, bytes]:
    good = pack(sos(1), heartbeat(2), sos(3, location={"lat": 1.0, "lon": 2.0}))
    many = rb.encode_request([(bytes(20), 0, None, None, None)] * (MAX_BATCH + 1), 0)
    loc_at = rb.HEADER_LEN + 3 * rb.RECORD_LEN
    wrong_index = good[:loc_at] + (7).to_bytes(2, "big") + good[loc_at + 2 :]
    return {
        "truncated": good[:-1],
        "padded": good + b"\0",
        "header only, counts say 3": good[: rb.HEADER_LEN],
        "shorter than a header": good[:5],
        "wrong magic": b"XXXX" + good[4:],
        "over the batch maximum": many,
        "location for no such frame": wrong_index,
        "count says fewer": good[:4] + (2).to_bytes(2, "big") + good[6:],
    }


@pytest.mark.parametrize("name", list(_bodies()))
def test_a_body_that_does_not_add_up_is_a_400_and_nothing_in_it_is_applied(
    env: Env, name: str
) -> None:
    r = env.client.post("/v1/frames/binary", content=_bodies()[name], headers={**env.gw, **PACKED})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "bad_batch" and r.json()["message"]
    assert env.client.get("/v1/alarms", headers=env.token()).json() == []
    # The same frames, packed right, are all still new: none was half-applied before.
    assert [s for s, _, _ in post_packed(env, pack(sos(1), heartbeat(2), sos(3)), 3)] == [
        "accepted"
    ] * 3


def test_wrong_media_type_is_a_415_and_the_token_is_still_required(env: Env) -> None:
    body = pack(sos(1))
    r = env.client.post("/v1/frames/binary", content=body, headers=env.gw)
    assert r.status_code == 415 and "application/octet-stream" in r.json()["message"]
    r = env.client.post("/v1/frames/binary", content=body, headers=PACKED)
    assert r.status_code == 401
    assert env.client.get("/v1/alarms", headers=env.token()).json() == []


@st.composite
def damaged_bodies(draw: st.DrawFn) -> bytes:
    """A well-formed body of a few heartbeats, then cut, padded or a byte changed: what a bad
    link or a buggy relay sends, mostly near enough to parse that the checks matter."""
    n = draw(st.integers(0, 4))
    body = bytearray(pack(*(heartbeat(c) for c in range(1, n + 1))))
    how = draw(st.sampled_from(["cut", "pad", "flip", "none"]))
    if how == "cut":
        del body[draw(st.integers(0, len(body))) :]
    elif how == "pad":
        body += draw(st.binary(min_size=1, max_size=30))
    elif how == "flip":
        body[draw(st.integers(0, len(body) - 1))] ^= draw(st.integers(1, 255))
    return bytes(body)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(damaged_bodies(), st.binary(max_size=200)))
def test_damaged_bodies_never_crash_ingest(env: Env, body: bytes) -> None:
    """Any body is either a packed batch answered frame by frame or a clear 400."""
    r = env.client.post("/v1/frames/binary", content=body, headers={**env.gw, **PACKED})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        count = int.from_bytes(body[4:6], "big")
        assert len(rb.decode_reply(r.content, count)) == count


def test_frame_records_read_back_through_the_orm_as_they_were_relayed(env: Env) -> None:
    """Frame records are written with the driver's executemany (ingest/driver_rows.py), not the
    ORM: what the ORM reads back must be what was relayed, on both engines."""
    heard = dt.datetime.now(dt.UTC).replace(microsecond=123000) - dt.timedelta(minutes=3)
    items = [heartbeat(1, received_at=heard), sos(2, received_at=heard - dt.timedelta(seconds=1))]
    items[0]["rssi"], items[1]["link"] = -101, "serial"
    assert [s for s, _, _ in post_packed(env, pack(*items), 2)] == ["accepted"] * 2
    with env.app.state.db.session() as s:
        got = s.scalars(select(FrameRecord).order_by(FrameRecord.counter)).all()
        assert [bytes(r.raw) for r in got] == [bytes.fromhex(i["frame"]) for i in items]
        assert [(r.device_id, r.counter, r.ftype) for r in got] == [
            (DEVICE_ID, 1, ft.HEARTBEAT),
            (DEVICE_ID, 2, ft.SOS),
        ]
        assert [r.received_at for r in got] == [heard, heard - dt.timedelta(seconds=1)]
        assert [(r.link, r.rssi) for r in got] == [("ble", -101), ("serial", -70)]
        assert got[0].stored_at == got[1].stored_at and got[0].stored_at.tzinfo is not None
        assert got[0].gateway_id == env.seeded.gateway_id
