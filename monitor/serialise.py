"""Rows to the JSON the API and the console pages show; monitor/schemas.py describes each shape.

One place for both readers, so the console (routes/console.py) and the API routes never import
each other. An alarm's own payload is `services.alarms.payload`: the live stream and the
escalation webhooks send it too.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.models import (
    AuthToken,
    Contact,
    Device,
    Gateway,
    RejectionCount,
    User,
    Worker,
    utcnow,
)
from monitor.services import alarms, risk
from protocol import frame_types


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def timeline(session: Session, alarm_id: int) -> list[dict[str, Any]]:
    return [
        {
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "details": json.loads(e.details) if e.details else None,
        }
        for e in alarms.timeline(session, alarm_id)
    ]


def _current_risk(session: Session, worker_id: int) -> dict[str, Any] | None:
    latest = risk.current(session, worker_id)
    return risk.out(session, latest) if latest else None


def alarm_detail(session: Session, alarm: Any) -> dict[str, Any]:
    """schemas.AlarmDetail: the alarm with its worker's profile, device and timeline."""
    out = alarms.payload(session, alarm)
    worker = session.get(Worker, alarm.worker_id) if alarm.worker_id else None
    device = session.get(Device, alarm.device_id) if alarm.device_id else None
    out["worker_profile"] = (
        {
            "id": worker.id,
            "name": worker.name,
            "phone": worker.phone,
            "team": worker.team,
            "risk_notes": worker.risk_notes,
            "risk_assessment": _current_risk(session, worker.id),
        }
        if worker
        else None
    )
    out["device"] = (
        {
            "id": device.id,
            "board": device.board,
            "battery_pct": device.battery_pct,
            "last_seen_at": _iso(device.last_seen_at),
            "last_location": (
                {
                    "lat": device.last_lat,
                    "lon": device.last_lon,
                    "accuracy_m": device.last_accuracy_m,
                    "at": _iso(device.last_location_at),
                }
                # Both or nothing: a row with one coordinate (an older write, a hand edit) is
                # no position, and the console would fail to format it.
                if device.last_lat is not None and device.last_lon is not None
                else None
            ),
        }
        if device
        else None
    )
    out["timeline"] = timeline(session, alarm.id)
    return out


def device_out(session: Session, d: Device, default_interval_s: int = 60) -> dict[str, Any]:
    """schemas.DeviceOut. `default_interval_s` is Settings.heartbeat_interval_s."""
    return devices_out(session, [d], default_interval_s)[0]


def devices_out(
    session: Session, devices: list[Device], default_interval_s: int = 60
) -> list[dict[str, Any]]:
    """device_out for a list, with the workers read in one query (the fleet page)."""
    now = utcnow()
    ids = {d.worker_id for d in devices if d.worker_id}
    names: dict[int, str] = {}
    if ids:
        rows = session.execute(select(Worker.id, Worker.name).where(Worker.id.in_(ids))).all()
        names = {worker_id: name for worker_id, name in rows}
    out = []
    for d in devices:
        flags = d.last_flags or 0
        name = names.get(d.worker_id) if d.worker_id else None
        out.append(
            {
                "id": d.id,
                "board": d.board,
                "firmware_version": d.firmware_version,
                "worker": {"id": d.worker_id, "name": name} if name is not None else None,
                "allocated": d.worker_id is not None,
                "revoked": d.revoked_at is not None,
                "battery_pct": d.battery_pct,
                "last_seen_at": _iso(d.last_seen_at),
                "last_seen_age_s": round((now - d.last_seen_at).total_seconds())
                if d.last_seen_at
                else None,
                "heartbeat_interval_s": d.heartbeat_interval_s,
                "outbox_depth": d.outbox_depth,
                "checkin_due_at": _iso(d.checkin_due_at),
                "test_ok_at": _iso(d.test_ok_at),
                "last_link": d.last_link,
                "sensor_fault": bool(flags & frame_types.HB_SENSOR_FAULT),
                "charging": bool(flags & frame_types.HB_CHARGING),
                "supervised_interval_s": d.heartbeat_interval_s or default_interval_s,
                "pending_interval_s": d.heartbeat_pending_s,
            }
        )
    return out


def worker_out(session: Session, w: Worker, with_risk: bool = True) -> dict[str, Any]:
    """schemas.WorkerOut: profile, fobs and escalation ladder in order. Without `with_risk`
    (an operator outside an alarm) the risk notes and assessment are left out."""
    return workers_out(session, [w], with_risk)[0]


def workers_out(
    session: Session, workers: list[Worker], with_risk: bool = True
) -> list[dict[str, Any]]:
    """worker_out for a list: contacts, fobs and newest assessments in three queries, not three
    per worker (the workers page of a thousand people). Contacts and assessments come back as
    plain rows, not ORM objects: building thousands of those was most of the page's time."""
    ids = [w.id for w in workers]
    contacts: dict[int, list[Any]] = {i: [] for i in ids}
    fobs: dict[int, list[int]] = {i: [] for i in ids}
    latest: dict[int, Any] = {}
    if ids:
        columns = (Contact.worker_id, Contact.position, Contact.name, Contact.channel)
        more = (Contact.address, Contact.webhook_url, Contact.delay_s)
        listed = select(*columns, *more).where(Contact.worker_id.in_(ids))
        for c in session.execute(listed.order_by(Contact.position)):
            contacts[c.worker_id].append(c)
        held = select(Device.id, Device.worker_id).where(Device.worker_id.in_(ids))
        for device_id, worker_id in session.execute(held.order_by(Device.id)).all():
            if worker_id is not None:  # always, by the where clause; says so to mypy
                fobs[worker_id].append(device_id)
        if with_risk:
            latest = risk.newest(session, ids)
    return [
        {
            "id": w.id,
            "name": w.name,
            "phone": w.phone,
            "team": w.team,
            "email": w.email,
            "job_title": w.job_title,
            "risk_notes": w.risk_notes if with_risk else None,
            "risk_level": latest[w.id].level if w.id in latest else None,
            "review_due": latest[w.id].review_due.isoformat() if w.id in latest else None,
            "devices": fobs[w.id],
            "contacts": [_contact_out(c) for c in contacts[w.id]],
        }
        for w in workers
    ]


def _contact_out(c: Any) -> dict[str, Any]:
    """One escalation contact from its row (workers_out's columns)."""
    target = Contact.target_of(c.address, c.webhook_url)
    return {
        "position": c.position,
        "name": c.name,
        "channel": c.channel,
        "address": target,
        "webhook_url": target if c.channel == "webhook" else None,
        "delay_s": c.delay_s,
    }


def user_out(
    u: User, teams: list[str] | None = None, last_login: dt.datetime | None = None
) -> dict[str, Any]:
    """schemas.UserOut."""
    return {
        "id": u.id,
        "username": u.username,
        "name": u.name,
        "role": u.role,
        "active": u.active,
        "must_change_password": bool(u.must_change_password),
        "teams": teams or [],
        "last_login_at": _iso(last_login),
    }


def token_info(t: AuthToken) -> dict[str, Any]:
    """schemas.TokenInfo."""
    return {
        "id": t.id,
        "user_id": t.user_id,
        "label": t.label,
        "created_at": t.created_at.isoformat(),
        "expires_at": _iso(t.expires_at),
        "from_session": t.session_id is not None,
        "last_used_at": _iso(t.last_used_at),
    }


def gateway_out(g: Gateway) -> dict[str, Any]:
    """schemas.GatewayOut; phones are gateways of kind "phone"."""
    return {
        "id": g.id,
        "name": g.name,
        "created_at": g.created_at.isoformat(),
        "revoked_at": _iso(g.revoked_at),
        "last_seen_at": _iso(g.last_seen_at),
        "version": g.version,
        "queue_depth": g.queue_depth,
        "links": json.loads(g.links_json) if g.links_json else [],
        "kind": g.kind,
        "worker_id": g.worker_id,
        "device_id": g.device_id,
        "battery_pct": g.battery_pct,
        "refused_at": _iso(g.refused_at),
        "refused_attempts": g.refused_attempts or 0,
    }


def rejections(session: Session) -> dict[str, dict[str, Any]]:
    """schemas.Rejections: rejected frames counted by reason."""
    rows = session.scalars(select(RejectionCount).order_by(RejectionCount.reason))
    return {
        r.reason: {
            "count": r.count,
            "last_at": _iso(r.last_at),
            "last_device_id": r.last_device_id,
            "last_gateway_id": r.last_gateway_id,
        }
        for r in rows
    }
