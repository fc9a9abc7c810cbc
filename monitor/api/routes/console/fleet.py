"""Fobs: the fleet with its spare pool, and one fob's page (allocation, settings, revoke and
its history). Supervisors see their teams' fobs; allocation and settings are admins'."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from monitor.api.deps import DeviceId, ScopeDep, SessionDep, SettingsDep
from monitor.api.routes.console.common import ConsoleUser, page
from monitor.api.routes.devices import visible, visible_devices
from monitor.core.config import Settings
from monitor.models import AuditEntry, Device, RejectionCount, Worker
from monitor.serialise import device_out, devices_out
from monitor.services import fleet, fob_settings, scope

router = APIRouter(include_in_schema=False)

HISTORY_ROWS = 200


def _with_state(d: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Offline by the same rule supervision uses: more than `heartbeat_grace_beats` missed."""
    age = d["last_seen_age_s"]
    limit = d["supervised_interval_s"] * settings.heartbeat_grace_beats
    d["offline"] = d["allocated"] and not d["revoked"] and age is not None and age > limit
    return d


@router.get("/devices", response_class=HTMLResponse)
def devices_page(
    request: Request, p: ConsoleUser, view: ScopeDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    listed = devices_out(session, visible_devices(session, view), settings.heartbeat_interval_s)
    devices = [_with_state(d, settings) for d in listed]
    admin = p.role == "admin"
    return page(
        request,
        "devices.html",
        p,
        devices=devices,
        spares=fleet.spare_count(session),
        rejections=session.scalars(select(RejectionCount).order_by(RejectionCount.reason)).all()
        if admin
        else [],
        workers=_workers(session, view) if admin else [],
        nav="devices",
    )


def _workers(session: Any, view: scope.Scope) -> list[Worker]:
    return list(
        session.scalars(view.filter(select(Worker), view.worker_clause()).order_by(Worker.name))
    )


def _history(session: Any, device_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.subject == f"device:{device_id}")
        .order_by(AuditEntry.id.desc())
        .limit(HISTORY_ROWS)
    )
    names = {w.id: w.name for w in session.scalars(select(Worker))}
    out = []
    for e in rows:
        details = json.loads(e.details) if e.details else {}
        who = details.get("worker_id") if isinstance(details, dict) else None
        out.append(
            {
                "at": e.at,
                "actor": e.actor,
                "action": e.action.replace("_", " "),
                "worker": names.get(who) if isinstance(who, int) else None,
                "details": details,
            }
        )
    return out


@router.get("/devices/{device_id}", response_class=HTMLResponse)
def device_page(
    device_id: DeviceId,
    request: Request,
    p: ConsoleUser,
    view: ScopeDep,
    session: SessionDep,
    settings: SettingsDep,
) -> HTMLResponse:
    d = visible(session, view, device_id)
    admin = p.role == "admin"
    spares = session.scalars(
        select(Device.id)
        .where(Device.worker_id.is_(None), Device.revoked_at.is_(None), Device.id != d.id)
        .order_by(Device.id)
    )
    return page(
        request,
        "device.html",
        p,
        d=_with_state(device_out(session, d, settings.heartbeat_interval_s), settings),
        sent=fob_settings.current(d, settings),
        grace_beats=settings.heartbeat_grace_beats,
        spares=list(spares) if admin else [],
        workers=_workers(session, view) if admin else [],
        history=_history(session, d.id),
        nav="devices",
    )
