"""Signed downlink frames (ACK, ACK_HELP, ACK_RESOLVED, COMMAND) with a per-device counter.

`sign` is the monitor's one downlink signer: the ACKs ingest returns in the HTTP response and
the frames queued here for a gateway to collect all take their counter from it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Protocol

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from monitor.core.crypto import KeyBox, OpenedKey
from monitor.models import Device, Downlink
from monitor.services.events import queue_downlink_wakeup
from protocol import frame_types, frames

# A queued downlink older than this is never served (GET /v1/downlink) nor moved to a new
# gateway: an ACK_HELP this late would tell the worker help is coming long after the fact (the
# fob also refuses help for alarms over firmware/raised.py HELP_MAX_AGE_MS itself), and a command
# this late acts out of context. The honest gateway holds downlinks as long
# (gateway/relay.py PENDING_DOWNLINK_TTL_S); the monitor enforces it for every gateway.
MAX_AGE = dt.timedelta(minutes=15)


class Addressee(Protocol):
    """What signing needs of a device: the ORM `Device`, or ingest's `DeviceState` (the hot
    columns a batch reads without the ORM)."""

    id: int
    key_sealed: bytes
    downlink_counter: int


def _next_counter(device: Addressee) -> int:
    # Every downlink uses a fresh counter so the fob's own replay window accepts each once: one
    # place hands them out, or two signers could hand the same counter out twice.
    device.downlink_counter = (device.downlink_counter or 0) + 1
    return device.downlink_counter


def sign(keybox: KeyBox, device: Addressee, ftype: int, fields: tuple[int, ...]) -> bytes:
    key = keybox.open(device.id, device.key_sealed)
    signed: bytes = frames.encode(ftype, device.id, _next_counter(device), fields, key)
    return signed


def sign_ack(key: OpenedKey, device: Addressee, acked: int) -> bytes:
    """The ACK ingest returns for each frame it takes: `sign`'s frame for ACK, from the key
    ingest already opened (ingest/signing.py)."""
    from monitor.services.ingest import signing  # ingest imports this module

    return signing.ack(key, device.id, _next_counter(device), acked)


def queue(
    session: Session,
    keybox: KeyBox,
    device: Device,
    ftype: int,
    fields: tuple[int, ...],
    alarm_id: int | None = None,
) -> Downlink:
    frame = sign(keybox, device, ftype, fields)
    dl = Downlink(device_id=device.id, ftype=ftype, frame=frame, alarm_id=alarm_id)
    session.add(dl)
    queue_downlink_wakeup(session)
    return dl


def ack_help(session: Session, keybox: KeyBox, device: Device, counter: int, alarm_id: int) -> None:
    queue(session, keybox, device, frame_types.ACK_HELP, (counter,), alarm_id)


def ack_plain(
    session: Session, keybox: KeyBox, device: Device, counter: int, alarm_id: int
) -> None:
    # Seen by an operator, nobody sent: the fob stops resending if it still was, and says no
    # "help is coming".
    queue(session, keybox, device, frame_types.ACK, (counter,), alarm_id)


def ack_resolved(
    session: Session, keybox: KeyBox, device: Device, counter: int, alarm_id: int
) -> None:
    queue(session, keybox, device, frame_types.ACK_RESOLVED, (counter,), alarm_id)


def follow(session: Session, device_ids: Collection[int], now: dt.datetime) -> int:
    """The fobs are now heard through another gateway: move their downlinks still young enough
    to the end of the queue, so the new gateway gets them although its long-poll cursor is
    past them. Gateways get only the downlinks of the fobs they serve (Device.last_gateway_id),
    judged when they poll; without this, an ACK_HELP queued while the fob was with the old
    gateway would never reach it at the new one. Each row keeps its frame and created_at (the
    age limit still counts from queueing). Returns how many moved."""
    rows = session.execute(
        select(
            Downlink.id,
            Downlink.device_id,
            Downlink.ftype,
            Downlink.frame,
            Downlink.alarm_id,
            Downlink.created_at,
        )
        .where(Downlink.device_id.in_(sorted(device_ids)), Downlink.created_at >= now - MAX_AGE)
        .order_by(Downlink.id)
    ).all()
    if not rows:
        return 0
    # Insert before delete: the new ids are then above every id ever handed out (SQLite reuses
    # the highest rowid once it is deleted), so no gateway's cursor can already be past them.
    session.execute(
        insert(Downlink),
        [
            {
                "device_id": r.device_id,
                "ftype": r.ftype,
                "frame": r.frame,
                "alarm_id": r.alarm_id,
                "created_at": r.created_at,
            }
            for r in rows
        ],
    )
    session.execute(delete(Downlink).where(Downlink.id.in_([r.id for r in rows])))
    queue_downlink_wakeup(session)
    return len(rows)
