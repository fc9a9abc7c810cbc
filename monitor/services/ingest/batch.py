"""One batch's bookkeeping: a result per item, in order, and the reasons counted on the way.

Pure: no database. Rejections never fail the batch; each costs its own item a result and its
reason one count (written by `rejection_counts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from monitor.services.ingest.relayed import Relayed

# Result.status
ACCEPTED: Final[str] = "accepted"
DUPLICATE: Final[str] = "duplicate"  # stored before (another gateway, a resend): acked again
REJECTED: Final[str] = "rejected"


@dataclass
class Result:
    status: str
    reason: str | None = None
    device_id: int | None = None
    counter: int | None = None
    ack: bytes | None = None  # the signed ACK frame; hex in JSON
    # Unsigned fields the monitor did not believe (see `Relayed`); the frame was still taken.
    flags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "device_id": self.device_id,
            "counter": self.counter,
            "ack": None if self.ack is None else self.ack.hex(),
            "flags": self.flags,
        }


@dataclass
class Parsed:
    """An item whose frame has a known uplink type: its header read, its tag not yet checked."""

    index: int
    item: Relayed
    raw: bytes
    ftype: int
    device_id: int
    counter: int


@dataclass
class Batch:
    results: list[Result | None]
    parsed: list[Parsed] = field(default_factory=list)
    rejections: dict[str, int] = field(default_factory=dict)
    last_rejected: dict[str, tuple[int | None]] = field(default_factory=dict)

    def reject(self, i: int, reason: str, dev: int | None = None, ctr: int | None = None) -> None:
        self.results[i] = Result(REJECTED, reason, dev, ctr)
        self._count(reason, dev)

    def taken(self, p: Parsed, result: Result) -> None:
        # Field flags are counted only for frames that verified: a forged frame is one rejection.
        result.flags = p.item.flags
        self.results[p.index] = result
        for reason in p.item.flags:
            self._count(reason, p.device_id)

    def _count(self, reason: str, dev: int | None) -> None:
        self.rejections[reason] = self.rejections.get(reason, 0) + 1
        self.last_rejected[reason] = (dev,)
