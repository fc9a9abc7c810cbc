"""The packed relay batch (protocol/relay_batch.py) packs and reads the same on CPython and on
MicroPython, and gives back what was packed."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from devstack.interpreters import CPython, Interpreter
from protocol import relay_batch as rb

HERE = {"lat": 51.5, "lon": -0.125, "accuracy_m": 12.5, "source": "phone_gps", "fix_age_s": 3}
ITEMS = [
    [bytes(range(20)), 1500, "ble", -61, None],
    [bytes(range(20, 40)), None, None, None, HERE],
    [bytes(20), 0, "serial", 20, {"lat": -1.0, "lon": 2.0}],
]


def test_a_request_packs_byte_for_byte_the_same_on_both_interpreters(device: Interpreter) -> None:
    body = device.call("protocol.relay_batch:encode_request", ITEMS, 1_760_000_000_123)
    assert body == CPython().call("protocol.relay_batch:encode_request", ITEMS, 1_760_000_000_123)
    assert len(body) == rb.request_len(3, 2)
    base, records, locations = rb.decode_request(body, 10)
    assert base == 1_760_000_000_123
    assert [r[0] for r in records] == [i[0] for i in ITEMS]
    assert [r[1] for r in records] == [1500, rb.AGE_UNKNOWN, 0]
    assert [rb.LINKS[r[2]] for r in records] == ["ble", None, "serial"]
    assert [r[3] for r in records] == [-61, rb.RSSI_NONE, 20]
    assert rb.location_dict(locations[1]) == HERE
    assert rb.location_dict(locations[2]) == {"lat": -1.0, "lon": 2.0}


def test_a_reply_reads_the_same_on_both_interpreters(device: Interpreter) -> None:
    results = [("accepted", None, bytes(range(1, 21))), ("rejected", "bad_tag", None)]
    results += [("duplicate", None, bytes([7]) * 20), ("rejected", "no_such_reason", None)]
    body = rb.encode_reply(results)
    got = device.call("protocol.relay_batch:decode_reply", body, 4)
    assert [tuple(r) for r in got] == results[:3] + [("rejected", "other", None)]


records = st.tuples(
    st.binary(min_size=20, max_size=20),
    st.none() | st.integers(0, rb.AGE_UNKNOWN - 1),
    st.sampled_from(rb.LINKS),
    st.none() | st.integers(-127, 20),
    st.none()
    | st.fixed_dictionaries(
        {"lat": st.floats(-90, 90), "lon": st.floats(-180, 180)},
        optional={"accuracy_m": st.floats(0, 1e5, width=32), "fix_age_s": st.integers(0, 86400)},
    ),
)


@given(st.lists(records, max_size=40), st.integers(-(2**62), 2**62))
def test_what_is_packed_is_what_is_read(items: list, base_ms: int) -> None:
    base, got, locations = rb.decode_request(rb.encode_request(items, base_ms), len(items))
    assert base == base_ms and len(got) == len(items)
    for i, (frame, age, link, rssi, loc) in enumerate(items):
        assert got[i] == (
            frame,
            rb.AGE_UNKNOWN if age is None else age,
            rb.LINKS.index(link),
            rb.RSSI_NONE if rssi is None else rssi,
        )
        if loc is None:
            assert i not in locations
        else:
            read = rb.location_dict(locations[i])
            assert read.keys() == loc.keys()
            assert all(math.isclose(read[k], loc[k], rel_tol=1e-6) for k in loc)


@given(st.lists(records, min_size=1, max_size=5), st.data())
def test_any_cut_or_padding_is_refused_whole(items: list, data: st.DataObject) -> None:
    body = rb.encode_request(items, 0)
    cut = data.draw(st.integers(0, len(body) - 1))
    for bad in (body[:cut], body + bytes(data.draw(st.integers(1, 30)))):
        try:
            rb.decode_request(bad, 1000)
        except rb.BadBatch:
            continue
        raise AssertionError(f"{len(bad)} bytes read as a batch of {len(items)}")


def test_an_alarm_anywhere_in_a_body_is_seen_from_its_type_bytes_alone() -> None:
    from protocol import frame_types as ft
    from protocol import frames

    def item(ftype: int, fields: tuple[int, ...]) -> tuple[bytes, int, None, None, None]:
        return (frames.encode(ftype, 3, 1, fields, bytes(16)), 0, None, None, None)

    beats = [item(ft.HEARTBEAT, (90, 0, 0, 1))] * 5
    assert not rb.carries_urgent(rb.encode_request(beats, 0))
    for at in range(6):
        body = rb.encode_request(beats[:at] + [item(ft.SOS_CANCEL, (1, 0))] + beats[at:], 0)
        assert rb.carries_urgent(body)
        assert not rb.carries_urgent(body[: rb.HEADER_LEN + at * rb.RECORD_LEN])  # cut short
    assert not rb.carries_urgent(b"") and not rb.carries_urgent(b"VGB1")
