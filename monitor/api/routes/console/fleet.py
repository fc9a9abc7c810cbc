"""Fobs, gateways and phones."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from monitor.api.deps import SessionDep, SettingsDep
from monitor.api.routes.console.common import ConsoleUser, page
from monitor.models import Device, Gateway, RejectionCount, Worker
from monitor.serialise import device_out
from monitor.services import phones

router = APIRouter(include_in_schema=False)


@router.get("/devices", response_class=HTMLResponse)
def devices_page(
    request: Request, p: ConsoleUser, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    devices = [device_out(session, d) for d in session.scalars(select(Device).order_by(Device.id))]
    for d in devices:
        interval = d["heartbeat_interval_s"] or settings.heartbeat_interval_s
        age = d["last_seen_age_s"]
        d["offline"] = (
            d["allocated"] and age is not None and age > interval * settings.heartbeat_grace_beats
        )
    everything = session.scalars(select(Gateway).order_by(Gateway.id)).all()
    gateways = [g for g in everything if g.kind != phones.PHONE]
    names = {w.id: w.name for w in session.scalars(select(Worker))}
    phone_rows = [
        {"gateway": g, "worker": names.get(g.worker_id) if g.worker_id else None}
        for g in everything
        if g.kind == phones.PHONE
    ]
    rejections = session.scalars(select(RejectionCount).order_by(RejectionCount.reason)).all()
    return page(
        request,
        "devices.html",
        p,
        devices=devices,
        gateways=gateways,
        phones=phone_rows,
        rejections=rejections,
        workers=session.scalars(select(Worker).order_by(Worker.name)).all(),
        nav="devices",
    )
