"""Hypothesis draws a schedule of faults; the running system (real monitor, gateway and fobs)
suffers it while workers press SOS and operators acknowledge; then the faults stop and:

  every SOS a fob raised is shown to the operator exactly once, and
  every alarm an operator acknowledged gets its ACK_HELP to the fob ("help_coming").

The system is shared by all schedules of a run, so the invariant is checked over every alarm
raised so far, not just the last schedule's. See docs/reliability.md.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from host_tests.faults.rig import Rig

pytestmark = pytest.mark.faults

CONVERGE_S = 60.0  # after the faults stop: gateway backoff (10 s cap) + monitor restart + resend
HELP_S = 45.0  # acknowledged -> ACK_HELP on the fob: downlink long poll + gateway restart
POLL_S = 0.5
SUITE_TIMEOUT_S = 420  # a hung schedule fails the run instead of hanging CI
N_FOBS = 2

_fob = st.integers(0, N_FOBS - 1)
_down = st.floats(0.0, 1.5)
_hold = st.floats(0.3, 2.5)
FAULT = st.one_of(
    st.tuples(st.just("kill_gateway"), _down),
    st.tuples(st.just("kill_monitor"), _down),
    st.tuples(st.just("power_cut"), _fob),
    st.tuples(st.just("flash_cut"), _fob, st.integers(0, 6)),
    st.tuples(st.just("unplug"), _fob, _hold),
    st.tuples(st.just("noise"), _fob, st.integers(1, 300), st.integers(0, 2**16)),
    st.tuples(st.just("db_lock"), _hold),
    st.tuples(st.just("disk_full"), _hold),
    st.tuples(st.just("clock_jump"), st.sampled_from([-3600, -600, 600, 7200])),
)
STEP = st.fixed_dictionaries(
    {
        "fault": FAULT,
        "sos": st.one_of(st.none(), _fob),  # an SOS raised just before the fault lands
        "lead_s": st.floats(0.0, 1.2),  # how far into the SOS's path the fault lands
        "ack": st.booleans(),  # an operator acknowledges what is open after this step
    }
)

TOTALS: Counter[str] = Counter()
LOST_HELP: set[tuple[int, int]] = set()  # counted once as lost; not re-checked later


def _apply(rig: Rig, fault: tuple[Any, ...]) -> None:
    kind = fault[0]
    rig.note(f"fault {fault}")
    if kind in rig.not_injected:
        TOTALS[f"skipped.{kind}"] += 1
        return
    if kind == "kill_gateway":
        rig.kill_gateway(fault[1])
    elif kind == "kill_monitor":
        rig.kill_monitor(fault[1])
    elif kind == "power_cut":
        rig.power_cut(fault[1])
    elif kind == "flash_cut":
        rig.flash_cut(fault[1], fault[2])
        rig.sos(fault[1])  # an alarm's own writes are where a cut hurts most
        time.sleep(1.2)
    elif kind == "unplug":
        rig.unplug(fault[1], fault[2])
    elif kind == "noise":
        rig.noise(fault[1], fault[2], fault[3])
    elif kind == "db_lock":
        with rig.db_locked():
            time.sleep(fault[1])
    elif kind == "disk_full":
        with rig.disk_full():
            time.sleep(fault[1])
    elif kind == "clock_jump":
        rig.clock_jump(fault[1])
    TOTALS[f"fault.{kind}"] += 1


def _ack_open(rig: Rig, acked: set[int]) -> None:
    try:
        for a in rig.alarms():
            if a["status"] == "open" and rig.acknowledge(a["id"]):
                acked.add(a["id"])
                TOTALS["acks"] += 1
    except httpx.HTTPError:
        TOTALS["ack_attempt_failed"] += 1  # the monitor is down or locked: the operator retries


def _expected(rig: Rig) -> dict[tuple[int, int], None]:
    out: dict[tuple[int, int], None] = {}
    for s in rig.states:
        with s.lock:
            for c in s.raised | s.sent:
                out[(s.device_id, c)] = None
    return out


def _shown(rig: Rig) -> tuple[Counter[tuple[int, int]], dict[int, dict[str, Any]]]:
    shown: Counter[tuple[int, int]] = Counter()
    by_id: dict[int, dict[str, Any]] = {}
    for a in rig.alarms():
        c = rig.counter_of(a["id"])
        shown[(a["device_id"], c if c is not None else -1)] += 1
        by_id[a["id"]] = a
    return shown, by_id


def _converge(rig: Rig) -> tuple[Counter[tuple[int, int]], dict[int, dict[str, Any]]]:
    deadline = time.monotonic() + CONVERGE_S
    while True:
        try:
            shown, by_id = _shown(rig)
            if set(_expected(rig)) <= set(shown):
                return shown, by_id
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            missing = sorted(set(_expected(rig)) - set(shown))
            raise AssertionError(f"alarms raised but never shown after {CONVERGE_S} s: {missing}")
        time.sleep(POLL_S)


def _check_help(
    rig: Rig,
    by_id: dict[int, dict[str, Any]],
    during: set[int],
    cuts: dict[int, int],
    unplugged: set[int],
) -> None:
    """Every acknowledged alarm's ACK_HELP reaches its fob. One loss is known and allowed:
    an ACK_HELP acknowledged during the faults whose fob lost power or had its cable out in
    the same schedule (the fob confirms nothing back, so nobody resends it; see
    docs/reliability.md). It is counted, not hidden; any other loss fails."""
    want: set[tuple[int, int]] = set()
    excusable: set[tuple[int, int]] = set()
    for alarm_id, a in by_id.items():
        if a["status"] == "open":
            assert rig.acknowledge(alarm_id), f"cannot acknowledge alarm {alarm_id}"
            TOTALS["acks"] += 1
        c = rig.counter_of(alarm_id)
        assert c is not None
        if (a["device_id"], c) in LOST_HELP:
            continue
        want.add((a["device_id"], c))
        cut = any(
            s.power_cuts > cuts[s.device_id] for s in rig.states if s.device_id == a["device_id"]
        )
        if alarm_id in during and (cut or a["device_id"] in unplugged):
            excusable.add((a["device_id"], c))
    deadline = time.monotonic() + HELP_S
    while True:
        got = {(s.device_id, c) for s in rig.states for c in list(s.ack_help)}
        if want <= got:
            return
        if want - got <= excusable and time.monotonic() > deadline - HELP_S / 2:
            TOTALS["ack_help_lost_to_power_cut_or_unplug"] += len(want - got)
            LOST_HELP.update(want - got)
            rig.note(f"ACK_HELP lost to a fob power cut or unplug: {sorted(want - got)}")
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"acknowledged but no ACK_HELP on the fob: {sorted(want - got)}")
        time.sleep(POLL_S)


@pytest.mark.timeout(SUITE_TIMEOUT_S)
@settings(
    max_examples=6,
    deadline=None,
    # No shrinking: each example is ~20 s of real processes; the failing schedule is printed
    # as drawn, and its faults' log lines are in the rig's directory.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=st.lists(STEP, min_size=4, max_size=8))
def test_no_alarm_lost_or_doubled_and_every_ack_reaches_the_fob(
    rig: Rig, schedule: list[dict[str, Any]]
) -> None:
    acked_during: set[int] = set()
    cuts = {s.device_id: s.power_cuts for s in rig.states}
    unplugged = {
        rig.states[st["fault"][1]].device_id for st in schedule if st["fault"][0] == "unplug"
    }
    for step in schedule:
        if step["sos"] is not None:
            rig.note(f"sos on fob {step['sos']}")
            rig.sos(step["sos"])
            TOTALS["sos_pressed"] += 1
            time.sleep(step["lead_s"])
        _apply(rig, step["fault"])
        if step["ack"]:
            _ack_open(rig, acked_during)
    rig.note("heal")
    rig.heal()
    shown, by_id = _converge(rig)
    expected = _expected(rig)
    doubled = {k: n for k, n in shown.items() if n > 1}
    unknown = sorted(set(shown) - set(expected))
    assert not doubled, f"alarms shown more than once: {doubled}"
    assert not unknown, f"alarms shown that no fob raised: {unknown}"
    _check_help(rig, by_id, acked_during, cuts, unplugged)
    # The live stream: never an alarm the API does not know, never one created twice.
    created = Counter(
        e["id"] for e in list(rig.stream_events) if e["kind"] == "sos" and e["status"] == "open"
    )
    known = {a["id"] for a in rig.alarms()}  # now: a late SOS may have landed since
    assert set(created) <= known, "the stream showed an alarm the API does not have"
    # Nothing the fobs sent was refused: a resend is a duplicate, never a "replayed" attack.
    refused = rig.gateway_log().count("monitor rejected a frame")
    assert refused == 0, f"the monitor rejected {refused} frames from real fobs"
    TOTALS["schedules"] += 1
    TOTALS["alarms"] = len(expected)
    TOTALS["alarms_seen_live"] = len(created)
    TOTALS["ack_help_received"] = sum(len(s.ack_help) for s in rig.states)
    TOTALS["fob_power_cuts_seen"] = sum(s.power_cuts for s in rig.states)
    TOTALS["stream_connects"] = rig.stream_connects
