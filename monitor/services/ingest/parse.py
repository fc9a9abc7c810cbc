"""Items as posted → parsed frames. Pure: no database, no keys.

What can be refused from the bytes alone is refused here (malformed item, bad length, unknown
type, wrong direction); everything else waits for the device's row and key (`pipeline`).
JSON items (`parse`) and a packed body (`parse_packed`, protocol/relay_batch.py) become the
same `Batch`: from here on both take one path.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from monitor.services.ingest import reasons
from monitor.services.ingest.batch import Batch, Parsed
from monitor.services.ingest.relayed import FrameIn, relayed, relayed_packed
from protocol import frame_types as ft
from protocol import frames
from protocol import relay_batch as packed
from protocol.errors import ProtocolError

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def parse(items: list[Any], now: dt.datetime) -> Batch:
    batch = Batch(results=[None] * len(items))
    for i, raw_item in enumerate(items):
        try:
            item = FrameIn.model_validate(raw_item)
            raw = bytes.fromhex(item.frame)
        except (ValidationError, ValueError, TypeError):
            batch.reject(i, reasons.MALFORMED)
            continue
        head = _header(batch, i, raw)
        if head is not None:
            batch.parsed.append(Parsed(i, relayed(item, now), raw, *head))
    return batch


def parse_packed(body: bytes, now: dt.datetime, max_count: int) -> Batch:
    """A packed body → the batch; `relay_batch.BadBatch` when its lengths or counts do not add
    up (refused whole, before anything is applied)."""
    base_ms, records, locations = packed.decode_request(body, max_count)
    try:
        base: dt.datetime | None = _EPOCH + dt.timedelta(milliseconds=base_ms)
    except OverflowError:
        base = None  # every frame's time is then unknown, and flagged as such
    batch = Batch(results=[None] * len(records))
    for i, (raw, age_ms, link, rssi) in enumerate(records):
        head = _header(batch, i, raw)
        if head is None:
            continue
        where = locations.get(i)
        fields = relayed_packed(
            _heard_at(base, age_ms),
            packed.LINKS[link] if link < len(packed.LINKS) else link,
            None if rssi == packed.RSSI_NONE else rssi,
            None if where is None else packed.location_dict(where),
            now,
        )
        batch.parsed.append(Parsed(i, fields, raw, *head))
    return batch


def _heard_at(base: dt.datetime | None, age_ms: int) -> dt.datetime | None:
    if base is None or age_ms == packed.AGE_UNKNOWN:
        return None
    try:
        return base - dt.timedelta(milliseconds=age_ms)
    except OverflowError:
        return None


def _header(batch: Batch, i: int, raw: bytes) -> tuple[int, int, int] | None:
    """(type, device, counter) of an uplink frame; None once it is refused."""
    try:
        ftype, device_id, counter = frames.peek(raw)
    except ProtocolError as e:
        batch.reject(i, e.reason)
        return None
    if ft.direction(ftype) != ft.UPLINK:
        batch.reject(i, reasons.WRONG_DIRECTION, device_id, counter)
        return None
    return ftype, device_id, counter
