"""The one SQLite writer, shared so that an alarm never queues behind bulk traffic.

SQLite has one writer at a time, so ingest serialises its transactions in-process instead of
racing for the file lock. A plain lock is first come, first served: an SOS arriving while ten
threads of heartbeat batches wait took its turn behind all of them. Here an urgent holder
(the alarm part of a batch, pipeline.parts) goes before every bulk waiter, so an alarm waits at
most for the one bulk transaction already holding the writer.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class PriorityLock:
    """A mutex where urgent acquirers overtake waiting bulk ones (never the holder)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._held = False
        self._urgent_waiting = 0

    @contextlib.contextmanager
    def hold(self, urgent: bool) -> Iterator[None]:
        with self._cond:
            if urgent:
                self._urgent_waiting += 1
                try:
                    while self._held:
                        self._cond.wait()
                finally:
                    self._urgent_waiting -= 1
            else:
                while self._held or self._urgent_waiting:
                    self._cond.wait()
            self._held = True
        try:
            yield
        finally:
            with self._cond:
                self._held = False
                self._cond.notify_all()

    @property
    def urgent_waiting(self) -> int:
        """How many urgent acquirers wait now (tests wait on it to order their threads)."""
        with self._cond:
            return self._urgent_waiting
