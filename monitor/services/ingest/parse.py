"""Items as posted → parsed frames. Pure: no database, no keys.

What can be refused from the bytes alone is refused here (malformed item, bad length, unknown
type, wrong direction); everything else waits for the device's row and key (`pipeline`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from monitor.services.ingest import reasons
from monitor.services.ingest.batch import Batch, Parsed
from monitor.services.ingest.relayed import FrameIn, relayed
from protocol import frame_types as ft
from protocol import frames
from protocol.errors import ProtocolError


def parse(items: list[Any], now: dt.datetime) -> Batch:
    batch = Batch(results=[None] * len(items))
    for i, raw_item in enumerate(items):
        try:
            item = FrameIn.model_validate(raw_item)
            raw = bytes.fromhex(item.frame)
        except (ValidationError, ValueError, TypeError):
            batch.reject(i, reasons.MALFORMED)
            continue
        try:
            ftype, device_id, counter = frames.peek(raw)
        except ProtocolError as e:
            batch.reject(i, e.reason)
            continue
        if ft.direction(ftype) != ft.UPLINK:
            batch.reject(i, reasons.WRONG_DIRECTION, device_id, counter)
            continue
        batch.parsed.append(Parsed(i, relayed(item, now), raw, ftype, device_id, counter))
    return batch
