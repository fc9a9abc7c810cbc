"""Junk from the outside never crashes the fob and never hides a good frame behind it: random
downlink bytes are rejected and counted; random serial noise before a valid ACK leaves the ACK
working (the link resyncs at the next delimiter)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.interpreters import Interpreter
from host_tests import strategies as S
from host_tests.support.firmware import DEVICE_ID, KEY
from protocol import frame_types as ft
from protocol import frames, framing


@settings(max_examples=20)
@given(junk=st.lists(S.junk_frames, min_size=1, max_size=8))
def test_random_downlinks_are_rejected_and_counted(scenario: Any, junk: list[bytes]) -> None:
    good = frames.encode(ft.ACK_HELP, DEVICE_ID, 5, (1,), KEY).hex()
    log = scenario(
        [["acks", 0], ["hold", 2200]]
        + [["downlink", j.hex()] for j in junk]
        + [["downlink", good], ["wait", 100]]
    )
    assert log["rejected"] == len(junk)
    assert "help_coming" in [n for _, n in log["feedback"]]


SERIAL_SETUP = """
from hardware.sim.scenario import Runner as _JR
from firmware.serial_link import SerialLink as _JSL
class _JPort:
    def __init__(self):
        self.rx = []
        self.tx = []
    def write(self, data):
        self.tx.append(bytes(data))
    def read(self):
        return self.rx.pop(0) if self.rx else None
"""


@settings(max_examples=20)
@given(noise=st.binary(max_size=300), chunk=st.integers(1, 64))
def test_serial_noise_then_ack_the_ack_still_lands(
    device: Interpreter, new_root: Any, noise: bytes, chunk: int
) -> None:
    device.exec(SERIAL_SETUP)
    device.exec(
        f"_jr = _JR({new_root()!r}, {DEVICE_ID}, {KEY.hex()!r}, {{'no_motion_s': 0}})\n"
        "_jp = _JPort()\n_jl = _JSL(_jp)\n_jr.fob.hw.links.append(_jl)\n_jr.link.acks = False\n"
        "_jl.attach(_jr.fob, _jr.board.admin)\n_jr.step(['hold', 2200])\n"
    )
    ack = frames.encode(ft.ACK_HELP, DEVICE_ID, 9, (1,), KEY)
    # A writer leads with a delimiter (as the fob and the gateway do): noise cannot glue on.
    stream = noise + b"\x00" + framing.encode(ack)
    parts = [stream[i : i + chunk] for i in range(0, len(stream), chunk)]
    device.exec(
        f"_jp.rx = [bytes.fromhex(h) for h in {[p.hex() for p in parts]!r}]\n"
        "_jr.step(['wait', 20 * (len(_jp.rx) + 2)])"
    )
    assert device.eval("_jr.board.boots") == 1
    assert "help_coming" in device.eval("[n for _, n in _jr.feedback]")
