"""While an alarm request is in flight, other work in this process steps aside for it.

The writer lock (ingest/writer_lock.py) orders ingest's transactions, but an alarm also needs
the interpreter and the SQLite file's one lock (core/db.py) for its other transactions (who is
calling, the alarm's own): with one Python process saturated by heartbeat batches, each of the
alarm's database calls waited its turn behind the bulk thread (an SOS took 8 ms to apply and
22 ms to answer, against 1 and 6 idle). An alarm request enters the gate as soon as its body is
read. Ingest's bulk work steps aside at its safe points (before a batch, between chunks), and
every other transaction before it begins (core/db.py), and the scheduler before each tick and
each escalation delivery, each for at most STEP_ASIDE_S, so a flood of alarms cannot stop the
rest for good. Work that does its own stepping aside, or is the
alarm's, runs `exempt()` from the wait at BEGIN.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator

_EXEMPT: contextvars.ContextVar[bool] = contextvars.ContextVar("vigil_exempt", default=False)


class UrgentGate:
    """How many alarm requests are in flight in this process (module docstring)."""

    STEP_ASIDE_S = 0.1

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._in_flight = 0

    @contextlib.contextmanager
    def urgent(self) -> Iterator[GateEntry]:
        """In flight until the block ends, or until the entry's `leave` (a request leaves once
        its alarms are committed, so its own heartbeats do not wait for it)."""
        entry = GateEntry(self)
        try:
            yield entry
        finally:
            entry.leave()

    def _enter(self) -> None:
        with self._cond:
            self._in_flight += 1

    def _leave(self) -> None:
        with self._cond:
            self._in_flight -= 1
            if not self._in_flight:
                self._cond.notify_all()

    @property
    def busy(self) -> bool:
        return self._in_flight > 0

    def step_aside(self) -> None:
        with self._cond:
            if self._in_flight:
                self._cond.wait_for(lambda: not self._in_flight, timeout=self.STEP_ASIDE_S)


class GateEntry:
    """One request's place in the gate: entered when made, left at most once."""

    def __init__(self, gate: UrgentGate) -> None:
        self._gate: UrgentGate | None = gate
        gate._enter()

    def leave(self) -> None:
        if self._gate is not None:
            self._gate._leave()
            self._gate = None


@contextlib.contextmanager
def exempt() -> Iterator[None]:
    """Transactions begun in this block (this request, this thread's call) do not wait at
    BEGIN: an alarm's own, and ingest's, which steps aside at its own safe points (waiting at
    BEGIN while it holds the writer lock would hold the alarm up instead)."""
    token = _EXEMPT.set(True)
    try:
        yield
    finally:
        _EXEMPT.reset(token)


def step_aside_at_begin() -> None:
    if not _EXEMPT.get():
        gate.step_aside()


gate = UrgentGate()  # this process's
