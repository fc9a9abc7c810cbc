"""Supervision: silence and missed check-ins become alarms. State lives in the database, so a
restart loses nothing: the next tick recomputes from last_seen_at and checkin_due_at."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from monitor.core.config import Settings
from monitor.core.crypto import KeyBox
from monitor.models import Device, utcnow
from monitor.services import alarm_kinds as kinds
from monitor.services import alarms, audit, downlinks, jobs
from protocol import frame_types as ft

PHONE_BOARD = "phone"  # services/phones.py PHONE_BOARD (that module imports provisioning)
# The worker is buzzed this long before a visit (a check-in) is due: time to say "I'm safe" or
# extend it before the operator is alarmed.
VISIT_REMIND_BEFORE = dt.timedelta(minutes=5)


def grace(device: Device, settings: Settings) -> dt.timedelta:
    interval = device.heartbeat_interval_s or settings.heartbeat_interval_s
    return dt.timedelta(seconds=interval * settings.heartbeat_grace_beats)


def supervise(session: Session, settings: Settings, now: dt.datetime | None = None) -> list[int]:
    """Raise device_offline / checkin_overdue alarms that are due; returns the new alarm ids."""
    now = now or utcnow()
    raised: list[int] = []
    # Only devices carried by someone: a spare on the shelf is silent by design, and a device
    # never heard from has no baseline yet (provisioning's test frame sets one).
    # Only candidates come back from the database (silent for at least the shortest grace any
    # device has, or past a check-in): a site of 10,000 fobs heard on time costs one index scan
    # per tick, not 10,000 rows. The exact per-device rule is applied below.
    shortest = session.scalar(select(func.min(Device.heartbeat_interval_s)))
    interval = min(settings.heartbeat_interval_s, shortest or settings.heartbeat_interval_s)
    silent_since = now - dt.timedelta(seconds=interval * settings.heartbeat_grace_beats)
    devices = session.scalars(
        select(Device).where(
            Device.worker_id.is_not(None),
            Device.revoked_at.is_(None),
            Device.last_seen_at.is_not(None),
            or_(Device.last_seen_at < silent_since, Device.checkin_due_at < now),
        )
    )
    for d in devices.all():
        with jobs.isolated(session, "supervision", f"device {d.id}"):
            _supervise_one(session, settings, d, now, raised)
    return raised


def _supervise_one(
    session: Session, settings: Settings, d: Device, now: dt.datetime, raised: list[int]
) -> None:
    assert d.last_seen_at is not None
    # A phone's own device identity sends no heartbeats (a phone in a pocket cannot promise
    # them): its silence is no alarm. Its check-ins (visits) are supervised like any other.
    if d.board != PHONE_BOARD and now - d.last_seen_at > grace(d, settings):
        if alarms.open_alarm(session, d.id, kinds.DEVICE_OFFLINE) is None:
            a = alarms.raise_alarm(
                session,
                kind=kinds.DEVICE_OFFLINE,
                device=d,
                raised_at=d.last_seen_at + grace(d, settings),
                received_at=now,
                stored_at=now,
                actor="system",
                battery_pct=d.battery_pct,
            )
            raised.append(a.id)
    if d.checkin_due_at is not None and now > d.checkin_due_at:
        if alarms.open_alarm(session, d.id, kinds.CHECKIN_OVERDUE) is None:
            loc = (
                {
                    "lat": d.last_lat,
                    "lon": d.last_lon,
                    "accuracy_m": d.last_accuracy_m or 0.0,
                    "source": d.last_location_source,
                    # The last position the worker shared, as old as it is now.
                    "fix_age_s": (
                        max(0, int((now - d.last_location_at).total_seconds()))
                        if d.last_location_at is not None
                        else None
                    ),
                }
                if d.last_lat is not None and d.last_lon is not None
                else None
            )
            a = alarms.raise_alarm(
                session,
                kind=kinds.CHECKIN_OVERDUE,
                device=d,
                raised_at=d.checkin_due_at,
                received_at=now,
                stored_at=now,
                actor="system",
                battery_pct=d.battery_pct,
                location=loc,
                visit=alarms.take_visit(d),
            )
            raised.append(a.id)
        d.checkin_due_at = None  # one overdue alarm per check-in


def remind_visits(session: Session, keybox: KeyBox, now: dt.datetime | None = None) -> list[int]:
    """Buzz the worker's fobs (COMMAND CMD_LOCATE) once per check-in, VISIT_REMIND_BEFORE before
    it is due. Returns the ids of the devices whose check-in was reminded."""
    now = now or utcnow()
    due = session.scalars(
        select(Device).where(
            Device.worker_id.is_not(None),
            Device.revoked_at.is_(None),
            Device.checkin_due_at > now,
            Device.checkin_due_at <= now + VISIT_REMIND_BEFORE,
        )
    )
    reminded: list[int] = []
    for d in due.all():
        if d.reminded_due_at == d.checkin_due_at:
            continue
        with jobs.isolated(session, "reminder", f"device {d.id}"):
            _remind_one(session, keybox, d)
            reminded.append(d.id)
    return reminded


def _remind_one(session: Session, keybox: KeyBox, d: Device) -> None:
    d.reminded_due_at = d.checkin_due_at
    # The fobs, not the phone's own device identity: the phone shows its own reminder.
    fobs = session.scalars(
        select(Device).where(
            Device.worker_id == d.worker_id,
            Device.revoked_at.is_(None),
            Device.board != "phone",
        )
    ).all()
    for fob in fobs:
        downlinks.queue(session, keybox, fob, ft.COMMAND, (ft.CMD_LOCATE, 0, 0))
    audit.record(
        session,
        "system",
        "visit_reminder",
        subject=f"device:{d.id}",
        details={"due_at": d.checkin_due_at.isoformat() if d.checkin_due_at else None,
                 "fobs": [f.id for f in fobs]},
    )  # fmt: skip
