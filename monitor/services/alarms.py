"""Alarm lifecycle: open -> acknowledged -> resolved. Callable without HTTP.

Cancellations from the fob are attached to the alarm (timeline + cancelled_at), never delete it:
an operator still closes it, usually as a false alarm, and the record stays for the report.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.core.crypto import KeyBox
from monitor.errors import InvalidTransition, NotFound
from monitor.models import Alarm, AuditEntry, Device, User, Worker, utcnow
from monitor.services import alarm_kinds, arc_forwarding, audit, downlinks
from monitor.services.events import queue_alarm_event

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"

# Lower is more urgent; derived from protocol.frame_types (see services/alarm_kinds.py).
PRIORITY = alarm_kinds.PRIORITY

OUTCOMES = (
    "help_sent",
    "worker_safe",
    "false_alarm",
    "emergency_services",
    "device_returned",
    "test",
    "other",
)


def _position(alarm: Alarm) -> dict[str, float | None] | None:
    # Ingest admits only finite positions on Earth, but rows stored before it did (or written
    # by hand) must not reach a console as Infinity, which no JSON parser accepts.
    lat, lon, acc = alarm.lat, alarm.lon, alarm.accuracy_m
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if acc is not None and not math.isfinite(acc):
        acc = None
    return {"lat": lat, "lon": lon, "accuracy_m": acc}


def location_source(alarm: Alarm, position: object) -> str | None:
    """phone_gps | gateway_site as the gateway said; "gateway" when it did not say (older
    gateways); None without a position. Always the gateway's word: the fob signs no position."""
    if not position:
        return None
    return alarm.location_source if alarm.location_source in LOCATION_SOURCES else "gateway"


LOCATION_SOURCES = ("phone_gps", "gateway_site")


def take_visit(device: Device) -> dict[str, str | None] | None:
    """The device's visit memo for the checkin_overdue alarm it goes to; cleared on the device
    (one memo per visit)."""
    if device.visit_where is None:
        return None
    visit = {"where": device.visit_where, "with": device.visit_with}
    device.visit_where = device.visit_with = None
    return visit


def payload(session: Session, alarm: Alarm) -> dict[str, Any]:
    worker = session.get(Worker, alarm.worker_id) if alarm.worker_id else None
    position = _position(alarm)
    return {
        "id": alarm.id,
        "device_id": alarm.device_id,
        "worker": (
            {"id": worker.id, "name": worker.name, "phone": worker.phone, "team": worker.team}
            if worker
            else None
        ),
        "kind": alarm.kind,
        "priority": alarm.priority,
        "status": alarm.status,
        "raised_at": alarm.raised_at.isoformat(),
        # The gateway's clock (unsigned); stored_at is ours. received_at_clamped: the gateway's
        # time was unbelievable and ours stands in for it.
        "received_at": alarm.received_at.isoformat(),
        "received_at_clamped": bool(alarm.received_at_clamped),
        "stored_at": alarm.stored_at.isoformat(),
        "age_lower_bound": alarm.age_lower_bound,
        "battery_pct": alarm.battery_pct,
        "location": position,
        # Every position is the relaying gateway's word, not signed by the fob.
        "location_source": location_source(alarm, position),
        "location_fix_age_s": alarm.location_fix_age_s if position else None,
        "visit": (
            {"where": alarm.visit_where, "with": alarm.visit_with} if alarm.visit_where else None
        ),
        "gateway_id": alarm.gateway_id,
        "link": alarm.link,
        "acknowledged_at": alarm.acknowledged_at.isoformat() if alarm.acknowledged_at else None,
        "time_to_ack_s": alarm.time_to_ack_s,
        "resolved_at": alarm.resolved_at.isoformat() if alarm.resolved_at else None,
        "outcome": alarm.outcome,
        "notes": alarm.notes,
        "cancelled_at": alarm.cancelled_at.isoformat() if alarm.cancelled_at else None,
        # Forwarding to the alarm receiving centre (services/arc_forwarding.py); None when
        # no ARC is configured.
        "arc": arc_forwarding.state(session, alarm.id),
    }


def _changed(session: Session, alarm: Alarm) -> None:
    session.flush()
    queue_alarm_event(session, payload(session, alarm))


ESCALATE_AFTER_COMMIT = "escalate_after_commit"


def raise_alarm(
    session: Session,
    *,
    kind: str,
    device: Device | None,
    raised_at: dt.datetime,
    received_at: dt.datetime,
    actor: str,
    received_at_clamped: bool = False,
    stored_at: dt.datetime | None = None,
    source_counter: int | None = None,
    age_lower_bound: bool = False,
    detail: int | None = None,
    battery_pct: int | None = None,
    location: dict[str, Any] | None = None,
    gateway_id: int | None = None,
    link: str | None = None,
    visit: dict[str, str | None] | None = None,
) -> Alarm:
    alarm = Alarm(
        device_id=device.id if device else None,
        worker_id=device.worker_id if device else None,
        kind=kind,
        priority=PRIORITY[kind],
        status=OPEN,
        source_counter=source_counter,
        raised_at=raised_at,
        received_at=received_at,
        received_at_clamped=received_at_clamped,
        stored_at=stored_at or utcnow(),
        age_lower_bound=age_lower_bound,
        detail=detail,
        battery_pct=battery_pct,
        lat=location["lat"] if location else None,
        lon=location["lon"] if location else None,
        accuracy_m=location.get("accuracy_m") if location else None,
        location_source=location.get("source") if location else None,
        location_fix_age_s=location.get("fix_age_s") if location else None,
        visit_where=visit["where"] if visit else None,
        visit_with=visit["with"] if visit else None,
        gateway_id=gateway_id,
        link=link,
    )
    session.add(alarm)
    session.flush()
    audit.record(
        session,
        actor,
        "raised",
        alarm_id=alarm.id,
        subject=kind,
        details={
            "counter": source_counter,
            "gateway": gateway_id,
            "link": link,
            "delay_s": round((received_at - raised_at).total_seconds()),
            "age_lower_bound": age_lower_bound or None,
            "received_at_clamped": received_at_clamped or None,
        },
    )
    # In this transaction: the alarm is never stored without its forward to the ARC.
    arc_forwarding.enqueue(session, alarm)
    # After the commit, the scheduler runs at once rather than at its next tick, so a contact
    # with no delay hears within a round trip (services/escalation.py, scheduler.run).
    session.info[ESCALATE_AFTER_COMMIT] = True
    _changed(session, alarm)
    return alarm


def open_alarm(session: Session, device_id: int, kind: str) -> Alarm | None:
    return session.scalars(
        select(Alarm)
        .where(Alarm.device_id == device_id, Alarm.kind == kind, Alarm.status != RESOLVED)
        .order_by(Alarm.id)
        .limit(1)
    ).first()


def help_counters(session: Session, alarm: Alarm) -> list[int]:
    """The fob counters an ACK_HELP for this alarm names: the frame that raised it and, for a
    coalesced alarm (check-in overdue, low battery), the newest repeat the fob sent into it. The
    fob says help only for an alarm not followed by a newer one still waiting
    (firmware/raised.py), so help for the first alone would stay quiet behind its own repeat."""
    if alarm.source_counter is None:
        return []
    out = [alarm.source_counter]
    repeats = session.scalars(
        select(AuditEntry.details)
        .where(AuditEntry.alarm_id == alarm.id, AuditEntry.action == "repeated_by_fob")
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()
    if repeats:
        counter = json.loads(repeats).get("counter")
        if isinstance(counter, int) and counter not in out:
            out.append(counter)
    return out


def attach(session: Session, alarm: Alarm, actor: str, action: str, **details: Any) -> None:
    audit.record(session, actor, action, alarm_id=alarm.id, details=details or None)
    _changed(session, alarm)


def cancel_from_fob(session: Session, alarm: Alarm, actor: str, at: dt.datetime) -> None:
    if alarm.cancelled_at is None:
        alarm.cancelled_at = at
    attach(session, alarm, actor, "cancelled_at_fob", cancelled_at=at.isoformat())


def get(session: Session, alarm_id: int) -> Alarm:
    alarm = session.get(Alarm, alarm_id)
    if alarm is None:
        raise NotFound(f"alarm {alarm_id} does not exist", alarm_id=alarm_id)
    return alarm


def acknowledge(
    session: Session, keybox: KeyBox, alarm_id: int, user: User, now: dt.datetime | None = None
) -> Alarm:
    now = now or utcnow()
    alarm = get(session, alarm_id)
    if alarm.status != OPEN:
        raise InvalidTransition(
            f"alarm {alarm_id} is already {alarm.status}; reload to see who took it",
            status=alarm.status,
        )
    alarm.status = ACKNOWLEDGED
    alarm.acknowledged_at = now
    alarm.acknowledged_by = user.id
    # Measured from when the monitor stored it, by its own clock: what the operator team
    # controls, and nothing a gateway asserts can stretch it. The delay before that
    # (raised -> received) is visible separately on the alarm.
    alarm.time_to_ack_s = round(max(0.0, (now - alarm.stored_at).total_seconds()), 3)
    audit.record(
        session,
        f"user:{user.username}",
        "acknowledged",
        alarm_id=alarm.id,
        details={"time_to_ack_s": alarm.time_to_ack_s},
        at=now,
    )
    device = session.get(Device, alarm.device_id) if alarm.device_id else None
    if device is not None and device.revoked_at is None:
        if alarm.kind in alarm_kinds.HELP:
            for counter in help_counters(session, alarm):
                downlinks.ack_help(session, keybox, device, counter, alarm.id)
        elif alarm.source_counter is not None:
            downlinks.ack_plain(session, keybox, device, alarm.source_counter, alarm.id)
    _changed(session, alarm)
    return alarm


def resolve(
    session: Session,
    keybox: KeyBox,
    alarm_id: int,
    actor: str,
    outcome: str,
    notes: str | None,
    user: User | None = None,
    now: dt.datetime | None = None,
) -> Alarm:
    now = now or utcnow()
    alarm = get(session, alarm_id)
    if alarm.status == RESOLVED:
        raise InvalidTransition(f"alarm {alarm_id} is already resolved", status=alarm.status)
    if outcome not in OUTCOMES:
        raise InvalidTransition(f"outcome must be one of {', '.join(OUTCOMES)}", outcome=outcome)
    alarm.status = RESOLVED
    alarm.resolved_at = now
    alarm.resolved_by = user.id if user else None
    alarm.outcome = outcome
    alarm.notes = notes
    audit.record(
        session,
        actor,
        "resolved",
        alarm_id=alarm.id,
        details={"outcome": outcome, "notes": notes},
        at=now,
    )
    device = session.get(Device, alarm.device_id) if alarm.device_id else None
    if device is not None and alarm.source_counter is not None and device.revoked_at is None:
        downlinks.ack_resolved(session, keybox, device, alarm.source_counter, alarm.id)
    _changed(session, alarm)
    return alarm


def timeline(session: Session, alarm_id: int) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.alarm_id == alarm_id).order_by(AuditEntry.id)
        )
    )
