"""Serial framing: fed one byte at a time, with noise between frames, as bytes / bytearray /
memoryview, on both interpreters. Noise costs at most the frame it hits, never the next one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.interpreters import Interpreter
from host_tests import strategies as S
from protocol import framing


@settings(max_examples=100)
@given(data=st.binary(max_size=600))
def test_cobs_round_trips(device: Interpreter, data: bytes) -> None:
    enc = device.call("protocol.framing:cobs_encode", data)
    assert 0 not in enc
    assert device.call("protocol.framing:cobs_decode", enc) == data


@settings(max_examples=60)
@given(
    frames=st.lists(S.serial_payloads, min_size=1, max_size=5),
    noise=st.lists(st.binary(max_size=30), min_size=5, max_size=5),
    kind=S.buffer_kinds,
)
def test_frames_survive_noise_fed_byte_by_byte(
    device: Interpreter, frames: list[bytes], noise: list[bytes], kind: str
) -> None:
    # Noise between frames; each frame led by a delimiter as the fob sends it after a reset.
    stream = b"".join(n + b"\x00" + framing.encode(f) for f, n in zip(frames, noise, strict=False))
    device.exec("from protocol.framing import Deframer as _D\n_d = _D()\n_got = []")
    device.exec(
        f"_data = {kind}({stream!r})\n"
        "for _i in range(len(_data)):\n"
        "    _got.extend(_d.feed(_data[_i:_i + 1]))\n"
    )
    assert device.eval("_got") == frames


@settings(max_examples=60)
@given(frames=st.lists(S.serial_payloads, min_size=2, max_size=4), cut=st.integers(1, 30))
def test_truncated_frame_costs_only_itself(
    device: Interpreter, frames: list[bytes], cut: int
) -> None:
    # The first frame is cut short (a fob reset mid-write); the rest must all arrive.
    first = framing.encode(frames[0])
    stream = first[: max(1, len(first) - cut) - 1] + b"".join(framing.encode(f) for f in frames[1:])
    got = device.eval(f"__import__('protocol.framing').framing.Deframer().feed({stream!r})")
    assert got[-(len(frames) - 1) :] == frames[1:]


def test_oversize_and_corrupt_frames_are_counted(device: Interpreter) -> None:
    good = framing.encode(b"hello")
    corrupt = bytearray(framing.encode(b"world"))
    corrupt[2] ^= 0x40
    stream = b"\x01" * 400 + b"\x00" + bytes(corrupt) + good
    device.exec("from protocol.framing import Deframer as _D\n_d = _D()")
    assert device.eval(f"_d.feed({stream!r})") == [b"hello"]
    assert device.eval("(_d.errors, _d.frames)") == [2, 1]


def test_idle_delimiters_are_not_errors(device: Interpreter) -> None:
    device.exec("from protocol.framing import Deframer as _D\n_d = _D()")
    assert device.eval("_d.feed(b'\\x00\\x00\\x00')") == []
    assert device.eval("_d.errors") == 0
