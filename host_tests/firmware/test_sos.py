"""SOS gesture: a hold past the threshold raises exactly one SOS within 50 ms, short presses
never do, and three taps inside the window cancel it (the alarm stays on record)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from host_tests.support.firmware import of_type, raised
from protocol import frame_types as ft

HOLD_MS = 2000
TICK_MS = 10  # the scenario's main-loop period
SLACK_MS = 50  # the bound from threshold to frame on the link


@settings(max_examples=25)
@given(
    lead=st.integers(0, 3000),
    bounce=st.integers(0, 20),
    seed=st.integers(0, 1000),
    # Stable contact at least the threshold plus one loop period for the poll to see it.
    extra=st.integers(3 * TICK_MS, 1500),
)
def test_hold_past_threshold_sends_one_sos_within_50ms(
    scenario: Any, lead: int, bounce: int, seed: int, extra: int
) -> None:
    log = scenario(
        [["wait", lead], ["hold", bounce + HOLD_MS + extra, bounce, seed], ["wait", 500]]
    )
    t0 = lead  # first contact
    sos = of_type(log, ft.SOS)
    assert len(sos) == 1, log["events"]
    t, frame = sos[0]
    assert t0 + HOLD_MS <= t <= t0 + bounce + HOLD_MS + SLACK_MS
    assert frame.as_dict()["age_s"] == 0
    assert ["sos_raised"] == [n for _, n in log["feedback"] if n == "sos_raised"]


# (duration, bounce, seed, gap). Gaps start at 100 ms: a release shorter than the 30 ms debounce
# is contact bounce inside one press, and such a "press" may well be a hold.
press = st.tuples(
    st.integers(40, 1950), st.integers(0, 20), st.integers(0, 1000), st.integers(100, 1500)
).filter(lambda p: p[0] + p[1] < HOLD_MS - 2 * TICK_MS)


@settings(max_examples=20)
@given(presses=st.lists(press, min_size=1, max_size=6))
def test_short_presses_never_raise_sos(
    scenario: Any, presses: list[tuple[int, int, int, int]]
) -> None:
    steps: list[list[Any]] = []
    for duration, bounce, seed, gap in presses:
        # duration counts the closing bounce: total contact stays under the threshold.
        steps += [
            ["press", duration - bounce if duration > bounce else duration, bounce, seed],
            ["wait", gap],
        ]
    log = scenario(steps + [["wait", 1000]])
    assert of_type(log, ft.SOS) == []
    assert raised(log, "sos") == []


def test_three_taps_inside_window_send_sos_cancel_referencing_the_sos(scenario: Any) -> None:
    taps = [["press", 120], ["wait", 150], ["press", 120], ["wait", 150], ["press", 120]]
    log = scenario([["hold", 2300], ["wait", 3000], *taps, ["wait", 1000]])
    ((_, sos),) = of_type(log, ft.SOS)
    ((_, cancel),) = of_type(log, ft.SOS_CANCEL)
    assert cancel.as_dict()["cancels_counter"] == sos.counter
    assert "cancelled" in [n for _, n in log["feedback"]]


def test_three_taps_after_the_window_cancel_nothing(scenario: Any) -> None:
    taps = [["press", 120], ["wait", 150], ["press", 120], ["wait", 150], ["press", 120]]
    log = scenario(
        [["hold", 2300], ["wait", 31000], *taps, ["wait", 1000]], config={"no_motion_s": 0}
    )
    assert len(of_type(log, ft.SOS)) == 1
    assert of_type(log, ft.SOS_CANCEL) == []


def test_hold_threshold_is_configurable(scenario: Any) -> None:
    log = scenario([["hold", 1200], ["wait", 200]], config={"sos_hold_ms": 1000})
    ((t, _),) = of_type(log, ft.SOS)
    assert 1000 <= t <= 1000 + SLACK_MS
    log = scenario([["hold", 1900], ["wait", 200]], config={"sos_hold_ms": 3000})
    assert of_type(log, ft.SOS) == []


def test_unprovisioned_fob_refuses_sos_and_says_so(scenario: Any) -> None:
    log = scenario([["hold", 2300], ["wait", 100]], provisioned=False)
    assert log["sent"] == []
    assert "not_provisioned" in [n for _, n in log["feedback"]]
    assert log["status"]["outbox"] == 0
