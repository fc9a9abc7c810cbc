"""The queue against a model: whatever mix of appends, answers and restarts, it holds exactly
the unanswered frames, each once, most urgent first."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from gateway.queue import FrameQueue, frame_priority
from protocol import frame_types, frames

TYPES = (frame_types.SOS, frame_types.FALL, frame_types.LOW_BATTERY, frame_types.HEARTBEAT)


def _frame(ftype: int, counter: int) -> bytes:
    fields = (50, 0, 0, 1) if ftype == frame_types.HEARTBEAT else (50, 0, 0)
    return frames.encode(ftype, 9, counter, fields, bytes(32))


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp()
        self.q = FrameQueue(Path(self.dir) / "q.sqlite3")
        self.model: dict[bytes, int] = {}  # frame -> arrival order
        self.arrivals = 0

    @rule(ftype=st.sampled_from(TYPES), counter=st.integers(1, 40))
    def fob_sends(self, ftype: int, counter: int) -> None:
        raw = _frame(ftype, counter)
        self.q.append(raw, received_at="t", link="serial", port="p")
        if raw not in self.model:
            self.arrivals += 1
            self.model[raw] = self.arrivals

    @rule(n=st.integers(1, 5))
    def monitor_answers_a_batch(self, n: int) -> None:
        batch = self.q.batch(n)
        self.q.remove(q.id for q in batch)
        for q in batch:
            del self.model[q.frame]

    @rule()
    def gateway_restarts(self) -> None:
        self.q.close()
        self.q = FrameQueue(Path(self.dir) / "q.sqlite3")

    @invariant()
    def holds_exactly_the_unanswered_frames_in_urgency_order(self) -> None:
        got = [q.frame for q in self.q.batch(1000)]
        want = sorted(self.model, key=lambda f: (frame_priority(f), self.model[f]))
        assert got == want

    def teardown(self) -> None:
        self.q.close()


QueueMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_queue_matches_its_model = QueueMachine.TestCase
