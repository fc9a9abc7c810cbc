"""Devices and gateways: created with fresh secrets that are returned exactly once."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.core.crypto import KeyBox, new_device_key, new_token, token_hash
from monitor.errors import Conflict, NotFound
from monitor.models import Device, Gateway, Worker, utcnow
from monitor.services import audit
from protocol.frames import MAX_DEVICE_ID


def _free_device_id(session: Session) -> int:
    highest = session.scalar(select(func.max(Device.id)))
    candidate = (highest or 0) + 1
    while candidate > MAX_DEVICE_ID or session.get(Device, candidate) is not None:
        candidate = secrets.randbelow(MAX_DEVICE_ID) + 1
    return candidate


def provision_device(
    session: Session,
    keybox: KeyBox,
    actor: str,
    *,
    board: str,
    device_id: int | None = None,
    firmware_version: str | None = None,
    worker_id: int | None = None,
    heartbeat_interval_s: int | None = None,
    key: bytes | None = None,
    replace: bool = False,
) -> tuple[Device, bytes]:
    """Create (or with replace=True re-key) a device. Returns the device and its plaintext key,
    which the caller shows once and the database only ever holds encrypted."""
    if worker_id is not None and session.get(Worker, worker_id) is None:
        raise NotFound(f"worker {worker_id} does not exist", worker_id=worker_id)
    key = key or new_device_key()
    device = session.get(Device, device_id) if device_id is not None else None
    if device is not None and not replace:
        raise Conflict(
            f"device {device_id} is already provisioned; pass replace=true (vigil provision "
            "--force) to issue it a new key",
            device_id=device_id,
        )
    if device is None:
        device = Device(
            id=device_id if device_id is not None else _free_device_id(session),
            board=board,
            key_sealed=b"",
            replay_highest=-1,
            replay_bitmap=0,
            downlink_counter=0,
        )
        session.add(device)
    # A new key starts a new counter space on both sides.
    device.key_sealed = keybox.seal(device.id, key)
    device.board = board
    device.firmware_version = firmware_version
    device.worker_id = worker_id
    device.heartbeat_interval_s = heartbeat_interval_s
    device.replay_highest, device.replay_bitmap, device.downlink_counter = -1, 0, 0
    device.revoked_at = None
    session.flush()
    audit.record(
        session,
        actor,
        "device_provisioned",
        subject=f"device:{device.id}",
        details={"board": board, "replace": replace},
    )
    return device, key


def revoke_device(session: Session, actor: str, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(f"device {device_id} does not exist", device_id=device_id)
    device.revoked_at = device.revoked_at or utcnow()
    audit.record(session, actor, "device_revoked", subject=f"device:{device_id}")
    return device


def create_gateway(
    session: Session, actor: str, name: str, token: str | None = None
) -> tuple[Gateway, str]:
    token = token or new_token("vgw")
    gw = Gateway(name=name, token_hash=token_hash(token))
    session.add(gw)
    session.flush()
    audit.record(session, actor, "gateway_created", subject=f"gateway:{gw.id}")
    return gw, token
