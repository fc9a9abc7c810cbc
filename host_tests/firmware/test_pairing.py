"""The BLE pairing window (firmware/pairing.py) on CPython and MicroPython: five quick taps open
it, nothing else does; an SOS hold never opens it and still raises the SOS at its threshold; it
closes after 60 s or at the first new bond, each with its own pattern; outside it a bonding
attempt is refused and counted, and a central with no bond may hold the link only briefly."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.interpreters import Interpreter
from host_tests.support.firmware import of_type
from protocol import frame_types as ft

HOLD_MS = 2000
WINDOW_MS = 60000
STRANGER_MS = 8000
GRACE_MS = 30000
SLACK_MS = 50  # hold threshold to SOS frame, as in test_sos.py
QUIET = {"no_motion_s": 0}  # a minute of stillness must not add its own patterns


def played(log: dict[str, Any]) -> list[str]:
    return [n for _, n in log["feedback"]]


def test_five_quick_taps_open_the_window_and_it_closes_after_60_s(scenario: Any) -> None:
    log = scenario([["taps", 5]], config=QUIET)
    assert log["pairing"]["open"] and played(log) == ["pairing_open"]
    log = scenario([["taps", 5], ["wait", WINDOW_MS - 2000]], config=QUIET)
    assert log["pairing"]["open"]
    log = scenario([["taps", 5], ["wait", WINDOW_MS]], config=QUIET)
    assert not log["pairing"]["open"]
    assert played(log) == ["pairing_open", "pairing_closed"]
    assert [f for _, f in log["frames"] if f.ftype != ft.HEARTBEAT] == []  # no frame for it


@settings(max_examples=10)
@given(n=st.integers(1, 4), every=st.integers(150, 450))
def test_fewer_than_five_taps_never_open_the_window(scenario: Any, n: int, every: int) -> None:
    log = scenario([["taps", n, every], ["wait", 200]], config=QUIET)
    assert log["pairing"]["opened"] == 0 and "pairing_open" not in played(log)


def test_taps_too_far_apart_are_separate_gestures_not_a_pairing(scenario: Any) -> None:
    log = scenario([["taps", 5, 900]], config=QUIET)  # 800 ms between taps: over the gap
    assert log["pairing"]["opened"] == 0


@settings(max_examples=10)
@given(taps=st.integers(0, 6), gap=st.integers(150, 450))
def test_an_sos_hold_after_taps_raises_sos_at_its_threshold_and_never_opens_pairing(
    scenario: Any, taps: int, gap: int
) -> None:
    # Taps, then within the tap gap a hold: the hold clears the taps and is an SOS.
    steps: list[list[Any]] = []
    for _ in range(taps):
        steps += [["press", 100], ["wait", gap - 100]]
    t_hold = taps * (gap + 10)  # each press step waits one extra loop tick
    log = scenario([*steps, ["hold", HOLD_MS + 300], ["wait", 1000]], config=QUIET)
    ((t, _),) = of_type(log, ft.SOS)
    assert t_hold + HOLD_MS <= t <= t_hold + HOLD_MS + SLACK_MS + 20 * taps
    assert log["pairing"]["opened"] == 0 and "pairing_open" not in played(log)
    assert "sos_raised" in played(log)


def test_an_sos_hold_while_the_window_is_open_still_raises_sos(scenario: Any) -> None:
    log = scenario([["taps", 5], ["hold", HOLD_MS + 300], ["wait", 500]], config=QUIET)
    assert len(of_type(log, ft.SOS)) == 1
    assert played(log) == ["pairing_open", "sos_raised"]


def test_five_taps_after_an_sos_cancel_it_and_do_not_open_pairing(scenario: Any) -> None:
    log = scenario([["hold", HOLD_MS + 300], ["wait", 3000], ["taps", 5]], config=QUIET)
    assert len(of_type(log, ft.SOS_CANCEL)) == 1
    assert log["pairing"]["opened"] == 0 and "cancelled" in played(log)


def test_the_first_bond_closes_the_window_with_its_own_pattern(scenario: Any) -> None:
    log = scenario(
        [["taps", 5], ["bond_attempt"], ["bond"], ["bond_attempt"], ["wait", WINDOW_MS]],
        config=QUIET,
    )
    assert log["bond_allowed"] == [True, False]  # one bond per window
    assert log["pairing"] == {"open": False, "opened": 1, "bonds": 1, "refused": 1}
    assert played(log) == ["pairing_open", "pairing_bonded"]  # no "closed" after a bond


def test_outside_the_window_bonding_is_refused_and_counted(scenario: Any) -> None:
    log = scenario([["bond_attempt"], ["bond"], ["bond_attempt"]], config=QUIET)
    assert log["bond_allowed"] == [False, False]
    assert log["pairing"]["refused"] == 2 and log["pairing"]["bonds"] == 0
    assert played(log) == []


def test_covert_mode_keeps_the_pairing_patterns_on_vibration(scenario: Any) -> None:
    log = scenario([["taps", 5], ["wait", WINDOW_MS]], config={"covert": 1, "no_motion_s": 0})
    assert played(log) == ["pairing_open", "pairing_closed"]


def test_window_logic_alone_across_the_tick_wrap(device: Interpreter) -> None:
    ops: list[list[Any]] = [
        ["allow"],  # closed: refused
        ["stay", STRANGER_MS - 10],
        ["stay", STRANGER_MS],  # a stranger's time is up
        ["open"],
        ["stay", GRACE_MS - 10],  # while open, a central may take its time to pair
        ["stay", GRACE_MS],
        ["allow"],
        ["wait", WINDOW_MS - 20],
        ["wait", 20],  # the VirtualClock wraps 5 s in: the 60 s still hold
        ["bonded"],  # too late: the window is shut
        ["open"],
        ["bonded"],
        ["bonded"],
        ["open"],
        ["close"],
    ]
    out = device.call("hardware.sim.pairing_run:run", ops)
    assert out[:-1] == [
        False,
        True,
        False,
        True,
        True,
        False,
        True,
        True,
        False,
        False,
        True,
        True,
        False,
        True,
        False,
    ]
    patterns, (opened, bonds, refused) = out[-1]
    assert patterns == [
        "pairing_open",
        "pairing_closed",
        "pairing_open",
        "pairing_bonded",
        "pairing_open",
        "pairing_closed",
    ]
    assert (opened, bonds, refused) == (3, 1, 1)
