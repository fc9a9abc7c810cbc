"""The device columns ingest reads and writes on every frame, without the ORM.

Heartbeats are nearly all the traffic and need nothing else: a batch reads these columns
once with Core (no identity map), changes them in memory and writes them back in one bulk
UPDATE. The rare frames that act (alarms, check-ins, cancels) load the ORM row afterwards.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.core.crypto import OpenedKey
from monitor.models import Device
from monitor.services import downlinks
from monitor.services.ingest.batch import Parsed
from protocol import frame_types as ft
from protocol import frames

HOT = (
    "id",
    "key_sealed",
    "revoked_at",
    "replay_highest",
    "replay_bitmap",
    "downlink_counter",
    "last_seen_at",
    "last_gateway_id",
    "last_link",
    "battery_pct",
    "last_flags",
    "outbox_depth",
    "last_heartbeat_at",
    "heartbeat_interval_s",
    "heartbeat_pending_s",
    "heartbeat_pending_since",
)
WRITTEN = HOT[3:]  # id, key and revocation are only read


class DeviceState:
    """One device's hot columns for the length of a batch; written back in one bulk UPDATE."""

    __slots__ = HOT + ("touched", "moved")

    def __init__(self, row: Any) -> None:
        self.id: int = row.id
        self.key_sealed: bytes = row.key_sealed
        self.revoked_at: dt.datetime | None = row.revoked_at
        self.replay_highest: int = row.replay_highest
        self.replay_bitmap: int = row.replay_bitmap
        self.downlink_counter: int = row.downlink_counter or 0
        self.last_seen_at: dt.datetime | None = row.last_seen_at
        self.last_gateway_id: int | None = row.last_gateway_id
        self.last_link: str | None = row.last_link
        self.battery_pct: int | None = row.battery_pct
        self.last_flags: int | None = row.last_flags
        self.outbox_depth: int | None = row.outbox_depth
        self.last_heartbeat_at: dt.datetime | None = row.last_heartbeat_at
        self.heartbeat_interval_s: int | None = row.heartbeat_interval_s
        self.heartbeat_pending_s: int | None = row.heartbeat_pending_s
        self.heartbeat_pending_since: dt.datetime | None = row.heartbeat_pending_since
        self.touched = False
        self.moved = False  # now heard through another gateway than before this batch

    def changes(self) -> tuple[Any, ...]:
        """This device's written columns, then its id (driver_rows.DEVICE_COLUMNS)."""
        return (*(getattr(self, n) for n in WRITTEN), self.id)


def lock_devices(session: Session, ids: set[int]) -> dict[int, DeviceState]:
    cols = [getattr(Device, n) for n in HOT]
    stmt = select(*cols).where(Device.id.in_(ids)).order_by(Device.id)
    if session.get_bind().dialect.name == "postgresql":
        # Row locks serialise concurrent batches (several instances, several gateways) per
        # device so each replay window is read-modify-written atomically.
        stmt = stmt.with_for_update()
    return {r.id: DeviceState(r) for r in session.execute(stmt)}


def update_hot(d: DeviceState, p: Parsed, frame: frames.Frame, gateway_id: int | None) -> None:
    d.touched = True
    received = p.item.received_at
    if d.last_seen_at is None or received > d.last_seen_at:
        if gateway_id is not None and d.last_gateway_id != gateway_id:
            d.moved = True
        d.last_seen_at = received
        d.last_gateway_id = gateway_id
        d.last_link = p.item.link
    fields = frame.fields
    if p.ftype == ft.HEARTBEAT:
        d.battery_pct, d.last_flags, d.outbox_depth = fields[0], fields[1], fields[2]
        previous = d.last_heartbeat_at
        if previous is None or received > previous:
            d.last_heartbeat_at = received
            if d.heartbeat_pending_s is not None and previous is not None:
                _confirm_shorter_heartbeat(d, previous, received)
    elif ft.layout(p.ftype) == ft.ALARM_BODY and p.ftype != ft.TEST:
        d.battery_pct = fields[0] & 0x7F


def _confirm_shorter_heartbeat(d: DeviceState, previous: dt.datetime, now: dt.datetime) -> None:
    """Supervision takes up a shorter heartbeat interval only once the fob beats at it: two
    heartbeats, both after the change was sent, closer together than halfway between the old and
    the new interval. Until then it keeps judging by the old, longer one."""
    pending, since, old = d.heartbeat_pending_s, d.heartbeat_pending_since, d.heartbeat_interval_s
    if pending is None or since is None or previous < since:
        return
    if old is None or (now - previous).total_seconds() <= (old + pending) / 2:
        d.heartbeat_interval_s = pending
        d.heartbeat_pending_s = None
        d.heartbeat_pending_since = None


def downlink_ack(key: OpenedKey, device: DeviceState, counter: int) -> bytes:
    # ACKs go back in the HTTP response, not the downlink queue: the gateway that relayed the
    # frame is the one still connected to the fob.
    device.touched = True  # the new downlink counter is written back with the batch
    return downlinks.sign_ack(key, device, counter)
