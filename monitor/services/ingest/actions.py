"""What an accepted frame does beyond updating its device's hot columns: alarms, cancels,
check-ins, the self-test, a return from offline, help said again after a reboot.

Only the rare frames come here (not a routine heartbeat): they use the ORM, with the device
row loaded after the batch's bulk UPDATE so it sees this batch's state.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.core.crypto import KeyBox
from monitor.models import Alarm, Device, FrameRecord, utcnow
from monitor.services import alarm_kinds as kinds
from monitor.services import alarms, audit, downlinks
from monitor.services.ingest.batch import Parsed
from protocol import frame_types as ft
from protocol import frames

# Frames whose relayed position is kept: alarms and check-ins, never heartbeats (no
# continuous tracking).
_LOCATED = set(kinds.FROM_FRAME) | {ft.CHECKIN_START, ft.CHECKIN_STOP}


def _resend_help_after_reboot(session: Session, keybox: KeyBox, device: Device) -> None:
    # The fob restarted: an ACK_HELP delivered while it was losing power was never shown, and the
    # fob does not confirm it. Say it again for every alarm an operator is still handling; the
    # fob plays "help is coming" once per alarm per boot, so a repeat costs one downlink.
    handling = session.scalars(
        select(Alarm).where(
            Alarm.device_id == device.id,
            Alarm.status == alarms.ACKNOWLEDGED,
            Alarm.source_counter.is_not(None),
            Alarm.kind.in_(kinds.HELP),
        )
    )
    for alarm in handling:
        for counter in alarms.help_counters(session, alarm):
            downlinks.ack_help(session, keybox, device, counter, alarm.id)
        alarms.attach(session, alarm, f"device:{device.id}", "help_resent_after_reboot")


def act(
    session: Session,
    keybox: KeyBox,
    device: Device,
    p: Parsed,
    frame: frames.Frame,
    gateway_id: int | None,
    was_offline: bool,
    now: dt.datetime,
) -> None:
    info = frame.as_dict()
    received = p.item.received_at
    actor = f"device:{device.id}"
    age = dt.timedelta(seconds=int(info.get("age_s", 0)))
    raised = received - age
    loc = p.item.location if p.ftype in _LOCATED else None
    # A fix fix_age_s old at relay says where the worker was then, not when the fob raised.
    fix_at = (
        received - dt.timedelta(seconds=loc.fix_age_s)
        if loc is not None and loc.fix_age_s is not None
        else raised
    )
    if loc is not None and (device.last_location_at is None or fix_at >= device.last_location_at):
        device.last_lat, device.last_lon = loc.lat, loc.lon
        device.last_accuracy_m = loc.accuracy_m
        device.last_location_source = loc.source
        device.last_location_at = fix_at
    offline = alarms.open_alarm(session, device.id, kinds.DEVICE_OFFLINE) if was_offline else None
    if offline is not None:
        # The device is back: supervision's alarm clears itself, with the evidence on record.
        alarms.resolve(
            session,
            keybox,
            offline.id,
            "system",
            "device_returned",
            f"{frame.name} #{frame.counter} received via gateway {gateway_id}",
        )
    if p.ftype == ft.HEARTBEAT:
        if frame.fields[1] & ft.HB_BOOTED:
            _resend_help_after_reboot(session, keybox, device)
        return
    if p.ftype in kinds.FROM_FRAME:
        kind = kinds.FROM_FRAME[p.ftype]
        visit = None
        if kind == kinds.CHECKIN_OVERDUE:
            device.checkin_due_at = None
            visit = alarms.take_visit(device)
        existing = alarms.open_alarm(session, device.id, kind) if kind in kinds.COALESCED else None
        if existing is not None:
            alarms.attach(session, existing, actor, "repeated_by_fob", counter=frame.counter)
            return
        alarm = alarms.raise_alarm(
            session,
            kind=kind,
            device=device,
            raised_at=raised,
            received_at=received,
            received_at_clamped=p.item.received_at_clamped,
            stored_at=now,
            actor=actor,
            source_counter=frame.counter,
            age_lower_bound=bool(info.get("age_lower_bound")),
            detail=info.get("detail"),
            battery_pct=info.get("battery_pct"),
            location=loc.model_dump() if loc else None,
            gateway_id=gateway_id,
            link=p.item.link,
            visit=visit,
        )
        _attach_early_cancel(session, device, alarm, frame.counter)
    elif p.ftype in (ft.SOS_CANCEL, ft.FALL_CANCELLED):
        target = session.scalars(
            select(Alarm).where(
                Alarm.device_id == device.id, Alarm.source_counter == info["cancels_counter"]
            )
        ).first()
        if target is not None:
            alarms.cancel_from_fob(session, target, actor, raised)
        # else: the cancel overtook its alarm (reordered relays); the alarm picks it up.
    elif p.ftype == ft.CHECKIN_START:
        device.checkin_due_at = raised + dt.timedelta(minutes=info["duration_min"])
        audit.record(
            session,
            actor,
            "checkin_started",
            subject=f"device:{device.id}",
            details={"due_at": device.checkin_due_at.isoformat()},
        )
    elif p.ftype == ft.CHECKIN_STOP:
        device.checkin_due_at = None
        device.visit_where = device.visit_with = None
        audit.record(session, actor, "checkin_stopped", subject=f"device:{device.id}")
        overdue = alarms.open_alarm(session, device.id, kinds.CHECKIN_OVERDUE)
        if overdue is not None:
            alarms.attach(session, overdue, actor, "worker_checked_out")
    elif p.ftype == ft.TEST:
        device.test_ok_at = received
        audit.record(session, actor, "test_frame", subject=f"device:{device.id}")


def _attach_early_cancel(session: Session, device: Device, alarm: Alarm, counter: int) -> None:
    # A cancel relayed before its alarm (another gateway was faster) is already stored: find it.
    rows = session.execute(
        select(FrameRecord.counter, FrameRecord.raw).where(
            FrameRecord.device_id == device.id,
            FrameRecord.ftype.in_((ft.SOS_CANCEL, ft.FALL_CANCELLED)),
            FrameRecord.counter > counter,
        )
    )
    for ctr, raw in rows:
        delta = int.from_bytes(bytes(raw)[8:10], "big")
        if ctr - delta == counter:
            age = int.from_bytes(bytes(raw)[10:12], "big")
            received = session.scalar(
                select(FrameRecord.received_at).where(
                    FrameRecord.device_id == device.id, FrameRecord.counter == ctr
                )
            )
            at = (received or utcnow()) - dt.timedelta(seconds=age)
            alarms.cancel_from_fob(session, alarm, f"device:{device.id}", at)
            return
