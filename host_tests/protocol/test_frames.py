"""Signed frames on CPython and real MicroPython: round trip, junk, bit flips, reflection."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings

from devstack.interpreters import DeviceError, Interpreter
from host_tests import strategies as S
from protocol import frame_types as T
from protocol import frames
from protocol.errors import ProtocolError

PROTOCOL_ERRORS = {
    "ProtocolError",
    "BadLength",
    "UnknownType",
    "WrongDirection",
    "BadTag",
    "BadValue",
    "Replayed",
    "Stale",
    "BadFraming",
}


@settings(max_examples=150)
@given(frame=S.signed_frames())
def test_every_frame_type_round_trips_in_20_bytes(device: Interpreter, frame: tuple) -> None:
    ftype, dev, ctr, fields, key = frame
    data = device.call("protocol.frames:encode", ftype, dev, ctr, list(fields), key)
    assert len(data) == frames.FRAME_LEN == 20
    decoded = device.call("protocol.frames:decode", data, key, T.direction(ftype))
    assert decoded["type"] == T.NAMES[ftype]
    assert (decoded["device_id"], decoded["counter"]) == (dev, ctr)
    assert device.call("protocol.frames:peek", data) == [ftype, dev, ctr]


@settings(max_examples=200)
@given(junk=S.junk_frames, key=S.keys)
def test_decoding_junk_raises_only_protocol_errors(
    device: Interpreter, junk: bytes, key: bytes
) -> None:
    try:
        device.call("protocol.frames:decode", junk, key)
    except DeviceError as e:
        assert e.kind in PROTOCOL_ERRORS, e
    else:
        # Random bytes verifying would be a 2^-64 event: treat it as a broken tag check.
        pytest.fail("random bytes decoded as a valid frame")


@settings(max_examples=100)
@given(frame=S.signed_frames(), bit=S.frame_bits)
def test_flipping_any_bit_is_rejected(device: Interpreter, frame: tuple, bit: int) -> None:
    ftype, dev, ctr, fields, key = frame
    data = bytearray(frames.encode(ftype, dev, ctr, fields, key))
    data[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(DeviceError) as err:
        device.call("protocol.frames:decode", bytes(data), key)
    assert err.value.kind in PROTOCOL_ERRORS


@settings(max_examples=50)
@given(frame=S.signed_frames(types=S.UPLINK_TYPES), other=S.keys)
def test_frame_under_another_devices_key_is_rejected(
    device: Interpreter, frame: tuple, other: bytes
) -> None:
    ftype, dev, ctr, fields, key = frame
    data = frames.encode(ftype, dev, ctr, fields, key)
    # HMAC pads keys with zeros to the block size, so b"k" and b"k\0" are the same key.
    assume(other.rstrip(b"\0") != key.rstrip(b"\0"))
    with pytest.raises(DeviceError) as err:
        device.call("protocol.frames:decode", data, other)
    assert err.value.kind == "BadTag"


def test_uplink_frame_is_refused_where_downlink_is_expected(device: Interpreter) -> None:
    key = bytes(range(16))
    sos = frames.encode(T.SOS, 77, 1, (80, 0, 0), key)
    with pytest.raises(DeviceError) as err:
        device.call("protocol.frames:decode", sos, key, T.DOWNLINK)
    assert err.value.kind == "WrongDirection"


def test_reflected_frame_fails_even_with_its_type_rewritten() -> None:
    # An attacker turns an uplink SOS into a "downlink ACK" by rewriting the type byte: the tag was
    # computed over the uplink direction byte, so the fob refuses it.
    key = bytes(range(32))
    sos = bytearray(frames.encode(T.SOS, 77, 5, (80, 0, 0), key))
    sos[0] = (T.VERSION << 5) | T.ACK
    with pytest.raises(ProtocolError) as err:
        frames.decode(bytes(sos), key, T.DOWNLINK)
    assert err.value.reason == "bad_tag"


@pytest.mark.parametrize(
    ("ftype", "fields"),
    [(T.SOS, (256, 0, 0)), (T.SOS, (0, 0, 65536)), (T.ACK, (-1,)), (T.HEARTBEAT, (1, 2, 3))],
)
def test_out_of_range_fields_are_refused_not_truncated(
    device: Interpreter, ftype: int, fields: tuple
) -> None:
    # MicroPython's struct would silently truncate 256 to 0: the encoder must refuse first.
    with pytest.raises(DeviceError) as err:
        device.call("protocol.frames:encode", ftype, 1, 1, list(fields), bytes(16))
    assert err.value.kind == "BadValue"


def test_encoder_reuses_one_buffer(device: Interpreter) -> None:
    device.exec(
        "from protocol import frames as _f\n"
        "_enc = _f.Encoder(42, bytes(16))\n"
        "_a = _enc.encode(1, 1, (1, 0, 0))\n"
        "_b = _enc.encode(1, 2, (1, 0, 0))\n"
    )
    # Both views share the preallocated buffer: no per-frame allocation of the frame itself.
    assert device.eval("_a is _b or bytes(_a) == bytes(_b)") is True
    assert device.eval("_f.peek(bytes(_b))[2]") == 2


def test_alarm_frame_reports_when_it_was_raised() -> None:
    key = bytes(16)
    data = frames.encode(T.FALL, 9, 3, (T.AGE_LOWER_BOUND | 55, 31, 600), key)
    d = frames.decode(data, key, T.UPLINK).as_dict()
    assert d == {
        "type": "fall",
        "device_id": 9,
        "counter": 3,
        "battery_pct": 55,
        "age_lower_bound": True,
        "detail": 31,
        "age_s": 600,
    }


def test_cancel_names_the_alarm_it_cancels() -> None:
    key = bytes(16)
    data = frames.encode(T.SOS_CANCEL, 9, 103, (3, 12), key)
    assert frames.decode(data, key).as_dict()["cancels_counter"] == 100
