"""Devices: list (battery, last seen, sensor fault), provision (key shown once), allocate from the
spare pool, swap, return, settings, revoke, command. Supervisors see their teams' fobs only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from monitor.api.deps import (
    CurrentAdmin,
    CurrentOperator,
    DeviceId,
    KeyBoxDep,
    RefId,
    ScopeDep,
    SessionDep,
    SettingsDep,
)
from monitor.errors import NotFound
from monitor.models import Device, Worker, utcnow
from monitor.schemas import CommandQueued, DeviceOut, DeviceProvisioned, FrameResult
from monitor.serialise import device_out, devices_out
from monitor.services import audit, downlinks, fleet, fob_settings, ingest, provisioning, scope
from protocol import frame_types, frames
from protocol.errors import ProtocolError

router = APIRouter(prefix="/v1/devices", tags=["devices"])


class DeviceIn(BaseModel):
    board: str = Field(min_length=1, max_length=40, examples=["m5stickc-plus2"])
    device_id: int | None = Field(default=None, ge=1, le=0xFFFFFF)
    firmware_version: str | None = Field(default=None, max_length=40)
    worker_id: RefId | None = None
    heartbeat_interval_s: int | None = Field(default=None, ge=5, le=86400)
    replace: bool = Field(default=False, description="re-key an existing device (--force)")


class DevicePatch(BaseModel):
    worker_id: RefId | None = None
    firmware_version: str | None = Field(default=None, max_length=40)
    heartbeat_interval_s: int | None = Field(default=None, ge=5, le=86400)


class AssignIn(BaseModel):
    worker_id: RefId


class SwapIn(BaseModel):
    spare_id: int = Field(ge=0, le=0xFFFFFF, description="the spare that replaces this fob")


class SettingsIn(BaseModel):
    heartbeat_s: int | None = Field(default=None, ge=10, le=65535)
    covert: bool | None = None
    checkin_min: int | None = Field(default=None, ge=1, le=720)
    no_motion_s: int | None = Field(default=None, ge=0, le=65535)


class CommandIn(BaseModel):
    command: int = Field(ge=1, le=255)
    argument: int = Field(default=0, ge=0, le=255)
    value: int = Field(default=0, ge=0, le=0xFFFF)


@router.get("", response_model=list[DeviceOut])
def list_devices(
    _: CurrentOperator, view: ScopeDep, session: SessionDep, settings: SettingsDep
) -> list[dict[str, Any]]:
    return devices_out(session, visible_devices(session, view), settings.heartbeat_interval_s)


def visible_devices(session: Any, view: scope.Scope) -> list[Device]:
    """Every fob for operators and admins; a supervisor's teams' fobs (spares are the security
    office's, not a team's)."""
    q = select(Device).order_by(Device.id)
    if not view.everything:
        q = view.filter(q.join(Worker, Worker.id == Device.worker_id), view.worker_clause())
    return list(session.scalars(q))


def visible(session: Any, view: scope.Scope, device_id: int) -> Device:
    d: Device | None = session.get(Device, device_id)
    worker = session.get(Worker, d.worker_id) if d is not None and d.worker_id else None
    if d is None or not (view.everything or (worker and view.sees_team(worker.team))):
        raise NotFound(f"device {device_id} does not exist")
    return d


@router.post("", response_model=DeviceProvisioned, status_code=201)
def provision(
    body: DeviceIn, admin: CurrentAdmin, session: SessionDep, keybox: KeyBoxDep
) -> dict[str, Any]:
    d, key = provisioning.provision_device(
        session,
        keybox,
        admin.actor,
        board=body.board,
        device_id=body.device_id,
        firmware_version=body.firmware_version,
        worker_id=body.worker_id,
        heartbeat_interval_s=body.heartbeat_interval_s,
        replace=body.replace,
    )
    session.commit()
    # The only response that ever carries a device key: write it to the fob, then forget it.
    return {"device": device_out(session, d), "key": key.hex()}


@router.get("/{device_id}", response_model=DeviceOut)
def get_device(
    device_id: DeviceId,
    _: CurrentOperator,
    view: ScopeDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    return device_out(session, visible(session, view, device_id), settings.heartbeat_interval_s)


@router.post("/{device_id}/assign", response_model=DeviceOut)
def assign(
    device_id: DeviceId,
    body: AssignIn,
    admin: CurrentAdmin,
    view: ScopeDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Give a spare fob to a worker."""
    d = fleet.assign(session, view, admin.actor, device_id, body.worker_id)
    session.commit()
    return device_out(session, d, settings.heartbeat_interval_s)


@router.post("/{device_id}/swap", response_model=DeviceOut)
def swap(
    device_id: DeviceId,
    body: SwapIn,
    admin: CurrentAdmin,
    view: ScopeDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Replace this fob with a spare: the worker (and a running check-in) move to the spare,
    this fob returns to the pool. Returns the replacement."""
    _, new = fleet.swap(session, view, admin.actor, device_id, body.spare_id)
    session.commit()
    return device_out(session, new, settings.heartbeat_interval_s)


@router.post("/{device_id}/return", response_model=DeviceOut)
def return_to_spares(
    device_id: DeviceId,
    admin: CurrentAdmin,
    view: ScopeDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Back to the spare pool (refused during a check-in: swap instead)."""
    d = fleet.return_to_spares(session, view, admin.actor, device_id)
    session.commit()
    return device_out(session, d, settings.heartbeat_interval_s)


@router.post("/{device_id}/settings", response_model=DeviceOut, status_code=202)
def send_settings(
    device_id: DeviceId,
    body: SettingsIn,
    admin: CurrentAdmin,
    session: SessionDep,
    keybox: KeyBoxDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Queue the given settings to the fob as signed commands. A new heartbeat interval also
    becomes the monitor's supervision interval: at once if longer, once the fob's heartbeats
    show it if shorter."""
    fob_settings.send(
        session, keybox, settings, admin.actor, device_id, **body.model_dump(exclude_none=True)
    )
    session.commit()
    d = session.get(Device, device_id)
    assert d is not None
    return device_out(session, d, settings.heartbeat_interval_s)


@router.patch("/{device_id}", response_model=DeviceOut)
def update_device(
    device_id: DeviceId, body: DevicePatch, admin: CurrentAdmin, session: SessionDep
) -> dict[str, Any]:
    d = session.get(Device, device_id)
    if d is None:
        raise NotFound(f"device {device_id} does not exist")
    changes = body.model_dump(exclude_unset=True)
    if changes.get("worker_id") is not None and session.get(Worker, changes["worker_id"]) is None:
        raise NotFound(f"worker {changes['worker_id']} does not exist")
    for k, v in changes.items():
        setattr(d, k, v)
    audit.record(
        session, admin.actor, "device_updated", subject=f"device:{device_id}", details=changes
    )
    session.commit()
    return device_out(session, d)


@router.post("/{device_id}/revoke", response_model=DeviceOut)
def revoke(
    device_id: DeviceId, admin: CurrentAdmin, session: SessionDep, keybox: KeyBoxDep
) -> dict[str, Any]:
    d = provisioning.revoke_device(session, admin.actor, device_id)
    session.commit()
    keybox.forget(device_id)  # its key no longer sits opened in this instance's memory
    return device_out(session, d)


# Commands by number, for scripts; the console sends settings through /settings.


@router.post("/{device_id}/commands", response_model=CommandQueued, status_code=202)
def command(
    device_id: DeviceId,
    body: CommandIn,
    admin: CurrentAdmin,
    session: SessionDep,
    keybox: KeyBoxDep,
) -> dict[str, Any]:
    d = session.get(Device, device_id)
    if d is None or d.revoked_at is not None:
        raise NotFound(f"device {device_id} does not exist or is revoked")
    dl = downlinks.queue(
        session, keybox, d, frame_types.COMMAND, (body.command, body.argument, body.value)
    )
    audit.record(
        session,
        admin.actor,
        "command_queued",
        subject=f"device:{device_id}",
        details=body.model_dump(),
    )
    session.commit()
    return {"downlink_id": dl.id}


class TestFrameIn(BaseModel):
    frame: str = Field(pattern=r"^[0-9a-fA-F]{40}$", description="the fob's signed TEST frame")


# exclude_unset: a frame refused before ingest has no "flags" key, as before the model.
@router.post("/{device_id}/test", response_model=FrameResult, response_model_exclude_unset=True)
def verify_test_frame(
    device_id: DeviceId,
    body: TestFrameIn,
    admin: CurrentAdmin,
    session: SessionDep,
    keybox: KeyBoxDep,
) -> dict[str, Any]:
    """Provisioning self-test: the engineer's tool relays the fob's signed TEST frame here, so a
    freshly provisioned fob is proven able to reach the monitor before it goes out with a worker.
    Only a TEST frame of this device goes on to ingest (tag, replay window): anything else is
    refused before it could raise an alarm through the admin's hands."""
    try:
        ftype, dev, ctr = frames.peek(bytes.fromhex(body.frame))
    except ProtocolError:
        ftype, dev, ctr = -1, None, None
    if ftype != frame_types.TEST or dev != device_id:
        result: dict[str, Any] = {
            "status": "rejected",
            "reason": "not_a_test_frame_of_this_device",
            "device_id": dev,
            "counter": ctr,
            "ack": None,
        }
    else:
        item = {"frame": body.frame, "received_at": utcnow().isoformat(), "link": "serial"}
        [result] = ingest.ingest(session, keybox, [item], None)
    audit.record(session, admin.actor, "device_test", subject=f"device:{device_id}", details=result)
    session.commit()
    return result
