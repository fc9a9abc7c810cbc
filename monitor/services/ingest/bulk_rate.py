"""A cap on each gateway's heartbeat rate, so one gateway's backlog cannot crowd out another's
alarms. Alarms are never charged and never refused.

A token bucket per gateway on this instance: `per_s` frames a second, saving up to `burst`. A
batch of heartbeats only is refused (429, retry after the debt is paid) while the bucket is in
debt; otherwise it is taken whole and charged, so a 1,000-frame batch is never refused for
being bigger than what is saved. A batch with any alarm, cancel or check-in in it is always
taken, its heartbeats charged too: the gateway's next heartbeats-only batch then waits.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from monitor.errors import RateLimited


class BulkRate:
    def __init__(
        self, per_s: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_s = per_s
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[int, tuple[float, float]] = {}  # gateway -> (level, at)
        self.refused = 0  # batches refused on this instance since start

    def charge(self, gateway_id: int | None, heartbeats: int, urgent: bool) -> None:
        """Take `heartbeats` from the gateway's bucket, or raise RateLimited (nothing taken)."""
        if self.per_s <= 0 or gateway_id is None or heartbeats == 0:
            return  # no cap configured; or a call from inside the monitor
        with self._lock:
            now = self._clock()
            level, at = self._buckets.get(gateway_id, (self.burst, now))
            level = min(self.burst, level + (now - at) * self.per_s)
            if level <= 0 and not urgent:
                self._buckets[gateway_id] = (level, now)
                self.refused += 1
                wait = max(1, math.ceil(-level / self.per_s))
                raise RateLimited(
                    f"this gateway's heartbeats are over {self.per_s:g} frames/s: "
                    f"send them again in {wait} s (alarms are never held back)",
                    retry_after_s=wait,
                )
            self._buckets[gateway_id] = (level - heartbeats, now)
