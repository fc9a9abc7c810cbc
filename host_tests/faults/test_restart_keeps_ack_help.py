"""The fault the schedules found, replayed on purpose: an operator acknowledges while the
gateway has just restarted (it does not yet know which port the fob is on), the gateway polls
the ACK_HELP, and is killed again before the fob speaks. The ACK_HELP must still reach the fob."""

from __future__ import annotations

import time

import pytest

from host_tests.faults.rig import HEARTBEAT_S, Rig

pytestmark = pytest.mark.faults

WAIT_S = 20.0
POLLED_S = 2.0  # the monitor wakes the gateway's long poll at once; this is ample


def _wait(cond: object, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_ack_help_polled_before_a_kill_reaches_the_fob_after_restart(rig: Rig) -> None:
    fob = rig.states[0]
    rig.sos(0)
    _wait(lambda: fob.raised, "the SOS on the fob")
    counter = max(fob.raised)
    _wait(lambda: any(rig.counter_of(a["id"]) == counter for a in rig.alarms()), "the alarm")
    alarm = next(a for a in rig.alarms() if rig.counter_of(a["id"]) == counter)
    # Start right after a heartbeat: the next is HEARTBEAT_S away, longer than what follows.
    beats = fob.heartbeats
    _wait(lambda: fob.heartbeats > beats, "a heartbeat", 2 * HEARTBEAT_S)
    # Restart: the new gateway has not heard from the fob yet, so the ACK_HELP waits in it.
    rig.kill_gateway(0.0)
    time.sleep(1.0)
    assert rig.acknowledge(alarm["id"])
    time.sleep(POLLED_S)
    assert not fob.ack_help, "delivered before the fob spoke: the test no longer tests the gap"
    rig.kill_gateway(0.0)
    _wait(lambda: counter in fob.ack_help, "ACK_HELP after the restart", 3 * HEARTBEAT_S)
