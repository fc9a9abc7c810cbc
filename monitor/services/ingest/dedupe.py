"""Frames already stored under a device's counter: a resend to ack again, or a reused counter.

The replay window alone cannot tell a gateway's resend after a lost ack (ack it again, or the
fob retries for ever) from a fob reusing a counter (refuse it); the stored bytes can.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from monitor.models import FrameRecord
from monitor.services.ingest.batch import Parsed
from protocol import frame_types as ft
from protocol import frames
from protocol.errors import ProtocolError

# The only fields a resend may change (see `resent`).
_RESEND_MAY_CHANGE = ("age_s", "age_lower_bound")


def known_frames(session: Session, parsed: list[Parsed]) -> dict[tuple[int, int], bytes]:
    keys = {(p.device_id, p.counter) for p in parsed}
    if not keys:
        return {}
    # Two plain IN lists, not a row-value IN: SQLite answers this from the (device_id, counter)
    # unique index, where a tuple IN scans the whole table and slows as history grows. The
    # cross product may match a few extra rows; the exact pairs are picked out below.
    rows = session.execute(known_frames_statement(keys))
    return {(r[0], r[1]): bytes(r[2]) for r in rows if (r[0], r[1]) in keys}


def known_frames_statement(keys: set[tuple[int, int]]) -> Select[int, int, bytes]:
    return select(FrameRecord.device_id, FrameRecord.counter, FrameRecord.raw).where(
        FrameRecord.device_id.in_(sorted({k[0] for k in keys})),
        FrameRecord.counter.in_(sorted({k[1] for k in keys})),
    )


def resent(seen: bytes, frame: frames.Frame, key: bytes) -> bool:
    """The fob signs every send afresh with the alarm's current age (firmware `frame_for`) and
    marks the age a lower bound after a reboot, so a resend after a lost ack differs from the
    stored frame in those fields only. Anything else under the same counter is a reused one."""
    try:
        first = frames.decode(seen, key, ft.UPLINK)
    except ProtocolError:
        return False
    a, b = first.as_dict(), frame.as_dict()
    for name in _RESEND_MAY_CHANGE:
        a.pop(name, None)
        b.pop(name, None)
    return bool(a == b)
