"""The one SQLite writer, shared so that an alarm never queues behind bulk traffic (the gate
that makes other work step aside while an alarm is in flight is monitor/core/urgency.py).

SQLite has one writer at a time, so ingest serialises its transactions in-process instead of
racing for the file lock. A plain lock is first come, first served: an SOS arriving while ten
threads of heartbeat batches wait took its turn behind all of them. Here an urgent holder
(the alarm part of a batch, pipeline.parts) goes before every bulk waiter, so an alarm waits at
most for the one bulk transaction already holding the writer. Bulk holders take turns by
gateway: the next is the gateway served least recently, so one gateway's ten threads of
backlog cannot keep another's heartbeats waiting behind all ten.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Hashable, Iterator


class PriorityLock:
    """A mutex where urgent acquirers overtake waiting bulk ones (never the holder)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._held = False
        self._urgent_waiting = 0
        self._bulk_waiting: dict[Hashable, int] = {}  # who -> how many of theirs wait
        self._served: dict[Hashable, int] = {}  # who -> the turn they last held the writer
        self._turn = 0

    def _next_bulk(self) -> Hashable:
        return min(self._bulk_waiting, key=lambda who: self._served.get(who, 0))

    @contextlib.contextmanager
    def hold(self, urgent: bool, who: Hashable = None) -> Iterator[None]:
        """`who`: the gateway, for bulk holders' turns."""
        with self._cond:
            if urgent:
                self._urgent_waiting += 1
                try:
                    while self._held:
                        self._cond.wait()
                finally:
                    self._urgent_waiting -= 1
            else:
                self._bulk_waiting[who] = self._bulk_waiting.get(who, 0) + 1
                try:
                    while self._held or self._urgent_waiting or self._next_bulk() != who:
                        self._cond.wait()
                finally:
                    self._bulk_waiting[who] -= 1
                    if not self._bulk_waiting[who]:
                        del self._bulk_waiting[who]
                self._turn += 1
                self._served[who] = self._turn
            self._held = True
        try:
            yield
        finally:
            with self._cond:
                self._held = False
                self._cond.notify_all()

    def wanted_by_other(self, who: Hashable) -> bool:
        """Whether an urgent holder or another gateway's bulk waits: the holder should let go
        at its next chance (pipeline commits its chunk)."""
        with self._cond:
            return bool(self._urgent_waiting) or any(w != who for w in self._bulk_waiting)

    @property
    def urgent_waiting(self) -> int:
        """How many urgent acquirers wait now (tests wait on it to order their threads)."""
        with self._cond:
            return self._urgent_waiting
