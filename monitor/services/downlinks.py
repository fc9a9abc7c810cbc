"""Signed downlink frames (ACK, ACK_HELP, ACK_RESOLVED, COMMAND) with a per-device counter."""

from __future__ import annotations

from sqlalchemy.orm import Session

from monitor.core.crypto import KeyBox
from monitor.models import Device, Downlink
from monitor.services.events import queue_downlink_wakeup
from protocol import frame_types, frames


def sign(keybox: KeyBox, device: Device, ftype: int, fields: tuple[int, ...]) -> bytes:
    # Every downlink uses a fresh counter so the fob's own replay window accepts each once.
    device.downlink_counter = (device.downlink_counter or 0) + 1
    key = keybox.open(device.id, device.key_sealed)
    signed: bytes = frames.encode(ftype, device.id, device.downlink_counter, fields, key)
    return signed


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


def ack_resolved(
    session: Session, keybox: KeyBox, device: Device, counter: int, alarm_id: int
) -> None:
    queue(session, keybox, device, frame_types.ACK_RESOLVED, (counter,), alarm_id)
