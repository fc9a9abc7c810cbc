"""The replay window, as a state machine on both interpreters: every counter accepted exactly
once, whatever duplication, reordering or post-reboot counter jump the relays produce."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from devstack.interpreters import DeviceError, Interpreter
from protocol.replay import WINDOW, ReplayWindow


def make_machine(device: Interpreter) -> type[RuleBasedStateMachine]:
    class ReplayMachine(RuleBasedStateMachine):
        @initialize()
        def fresh(self) -> None:
            device.exec("from protocol.replay import ReplayWindow as _RW\n_w = _RW()")
            self.accepted: set[int] = set()
            self.highest = -1

        def offer(self, counter: int) -> None:
            try:
                device.eval(f"_w.accept({counter})")
                got = "accepted"
            except DeviceError as e:
                got = e.kind
            if counter in self.accepted:
                expected = {"Replayed", "Stale"}
            elif counter <= self.highest - WINDOW:
                expected = {"Stale"}
            else:
                expected = {"accepted"}
            assert got in expected, (counter, self.highest, got)
            if got == "accepted":
                self.accepted.add(counter)
                self.highest = max(self.highest, counter)

        @rule(step=st.integers(1, 3))
        def next_frame(self, step: int) -> None:
            self.offer(self.highest + step)

        @rule(back=st.integers(0, WINDOW + 8))
        def late_or_duplicate(self, back: int) -> None:
            # Another gateway relays an older frame (maybe one already accepted).
            self.offer(max(0, self.highest - back))

        @rule(jump=st.integers(WINDOW, 5 * WINDOW))
        def fob_rebooted(self, jump: int) -> None:
            # CounterStore skips the rest of its reserved block after a reboot.
            self.offer(self.highest + jump)

        @invariant()
        def state_is_persistable(self) -> None:
            if hasattr(self, "highest"):
                highest, bitmap = device.eval("_w.state()")
                assert highest == self.highest
                assert 0 <= bitmap < 1 << WINDOW

    return ReplayMachine


def test_each_counter_is_accepted_exactly_once(device: Interpreter) -> None:
    run_state_machine_as_test(
        make_machine(device), settings=settings(max_examples=60, stateful_step_count=40)
    )


def test_state_round_trips_through_storage() -> None:
    w = ReplayWindow()
    for c in (5, 3, 9, 7):
        w.accept(c)
    restored = ReplayWindow(*w.state())
    for c in (5, 3, 9, 7):
        try:
            restored.accept(c)
        except Exception as e:  # noqa: BLE001 - asserting the class below
            assert type(e).__name__ == "Replayed"
        else:
            raise AssertionError(f"counter {c} accepted twice after restore")
    restored.accept(8)
