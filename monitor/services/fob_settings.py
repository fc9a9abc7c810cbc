"""Settings an admin sends a fob from the console: heartbeat interval, covert mode, the
check-in length its button starts, and the no-motion time. Each is one signed COMMAND
downlink the fob applies when it next hears from its gateway.

The heartbeat interval is also the monitor's: supervision judges a fob silent after
`heartbeat_grace_beats` missed beats. A longer interval is taken up at once (a fob still beating
faster than expected is no risk). A shorter one waits in `heartbeat_pending_s` until the fob's
own heartbeats show it is applied (ingest/device_state.py): judging the old pace by the new
interval is what raised false "device offline" alarms before."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from monitor.core.config import Settings
from monitor.core.crypto import KeyBox
from monitor.errors import Conflict, NotFound
from monitor.models import Device, utcnow
from monitor.services import audit, downlinks
from protocol import frame_types as ft

# The fob refuses a heartbeat under 10 s (firmware/fob.py); the value is a u16.
HEARTBEAT_RANGE = (10, 65535)
CHECKIN_RANGE = (1, 720)  # minutes
NO_MOTION_RANGE = (0, 65535)  # seconds; 0 turns the no-motion alarm off


def current(device: Device, settings: Settings) -> dict[str, Any]:
    """What the form shows: the last values sent, and the interval supervision uses now."""
    sent: dict[str, Any] = json.loads(device.settings_json) if device.settings_json else {}
    return {
        **sent,
        "supervised_interval_s": device.heartbeat_interval_s or settings.heartbeat_interval_s,
        "pending_interval_s": device.heartbeat_pending_s,
        "pending_since": device.heartbeat_pending_since,
    }


def _in(name: str, value: int, bounds: tuple[int, int]) -> int:
    lo, hi = bounds
    if not lo <= value <= hi:
        raise Conflict(f"{name} must be from {lo} to {hi}")
    return value


def send(
    session: Session,
    keybox: KeyBox,
    settings: Settings,
    actor: str,
    device_id: int,
    *,
    heartbeat_s: int | None = None,
    covert: bool | None = None,
    checkin_min: int | None = None,
    no_motion_s: int | None = None,
) -> list[int]:
    """Queue one COMMAND per given setting; returns the downlink ids."""
    device = session.get(Device, device_id)
    if device is None or device.revoked_at is not None:
        raise NotFound(f"device {device_id} does not exist or is revoked")
    commands: list[tuple[int, int, int]] = []
    sent: dict[str, Any] = {}
    if heartbeat_s is not None:
        commands.append((ft.CMD_SET_HEARTBEAT, 0, _in("heartbeat_s", heartbeat_s, HEARTBEAT_RANGE)))
        sent["heartbeat_s"] = heartbeat_s
    if covert is not None:
        commands.append((ft.CMD_SET_COVERT, 1 if covert else 0, 0))
        sent["covert"] = covert
    if checkin_min is not None:
        commands.append((ft.CMD_SET_CHECKIN_MIN, 0, _in("checkin_min", checkin_min, CHECKIN_RANGE)))
        sent["checkin_min"] = checkin_min
    if no_motion_s is not None:
        commands.append((ft.CMD_SET_NO_MOTION, 0, _in("no_motion_s", no_motion_s, NO_MOTION_RANGE)))
        sent["no_motion_s"] = no_motion_s
    if not commands:
        raise Conflict("nothing to send: give at least one setting")
    ids = [downlinks.queue(session, keybox, device, ft.COMMAND, c).id for c in commands]
    now = utcnow()
    if heartbeat_s is not None:
        _supervise_at(device, settings, heartbeat_s, now)
    previous = json.loads(device.settings_json) if device.settings_json else {}
    device.settings_json = json.dumps({**previous, **sent, "sent_at": now.isoformat()})
    audit.record(session, actor, "fob_settings_sent", subject=f"device:{device_id}", details=sent)
    return ids


def _supervise_at(device: Device, settings: Settings, new: int, now: Any) -> None:
    old = device.heartbeat_interval_s or settings.heartbeat_interval_s
    if new >= old:
        device.heartbeat_interval_s = new
        device.heartbeat_pending_s = None
        device.heartbeat_pending_since = None
    else:
        # Written out, not left to the default: the confirmation compares against it.
        device.heartbeat_interval_s = old
        device.heartbeat_pending_s = new
        device.heartbeat_pending_since = now
