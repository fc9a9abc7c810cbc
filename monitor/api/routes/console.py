"""The operator console: server-rendered pages; live updates come from /v1/alarms/stream."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from monitor.api.deps import (
    SESSION_COOKIE,
    Principal,
    PrincipalDep,
    RowId,
    SessionDep,
    SettingsDep,
    ThrottleDep,
    csrf_matches,
    login_user,
)
from monitor.core import jsonsafe
from monitor.errors import CsrfFailed, MonitorError, NotAuthenticated
from monitor.models import Alarm, Device, Gateway, RejectionCount, Worker, utcnow
from monitor.serialise import alarm_detail, device_out, worker_out
from monitor.services import alarms, arc_forwarding, auth, ingest, phones, reports

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parents[2] / "templates"))


def ago(value: str | dt.datetime | None) -> str:
    """'3 min 20 s ago': every age an operator reads carries its unit."""
    if value is None:
        return "never"
    t = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    s = int((utcnow() - t).total_seconds())
    if s < 0:
        return "just now"
    if s < 60:
        return f"{s} s ago"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s ago"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min ago"
    return f"{s // 86400} d {s % 86400 // 3600} h ago"


def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"  # a non-finite figure from a damaged row is no duration
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(seconds)
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def clock(value: str | dt.datetime | None) -> str:
    if value is None:
        return "—"
    t = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return t.strftime("%d %b %H:%M:%S UTC")


_SOURCE_WORDS = {"phone_gps": "phone GPS", "gateway_site": "gateway site"}


def position_words(alarm: dict[str, Any]) -> str:
    """'phone GPS ±12 m, 8 s old' / 'gateway site ±50 m': where the position came from, how
    precise and how old it was (console.js `where` says the same on the cards)."""
    loc = alarm.get("location")
    if not loc:
        return ""
    source = alarm.get("location_source")
    words = _SOURCE_WORDS.get(source or "", f"gateway {alarm.get('gateway_id') or '?'}")
    acc = loc.get("accuracy_m")
    out = f"{words} ±{acc:.0f} m" if acc is not None else f"{words} ± ? m"
    age = alarm.get("location_fix_age_s")
    if age is not None:
        out += f", {duration(age) if age >= 60 else f'{int(age)} s'} old"
    return out


templates.env.filters["ago"] = ago
templates.env.filters["position_words"] = position_words
templates.env.filters["clock"] = clock
templates.env.filters["duration"] = duration
templates.env.filters["tojson_attr"] = lambda v: jsonsafe.dumps(v)
# `tojson` in templates (the queue's initial alarms) must never write Infinity: see jsonsafe.
templates.env.policies["json.dumps_function"] = jsonsafe.dumps


def console_user(p: PrincipalDep) -> Principal:
    if p.user is None or p.role not in ("operator", "admin"):
        raise NotAuthenticated("log in to use the console")
    return p


ConsoleUser = Annotated[Principal, Depends(console_user)]


def page(request: Request, name: str, p: Principal, **ctx: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"user": p.user, "role": p.role, "csrf": p.csrf_token, **ctx}
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, error: str | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"error": error})


@router.post("/login")
def login_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    response = RedirectResponse("/", status_code=303)
    try:
        login_user(request, response, session, settings, throttle, username, password)
    except MonitorError as e:
        return templates.TemplateResponse(
            request, "login.html", {"error": e.message}, status_code=e.status_code
        )
    return response


@router.post("/logout")
def logout_form(
    p: ConsoleUser,
    request: Request,
    session: SessionDep,
    csrf_token: Annotated[str, Form(max_length=100)],
) -> Response:
    if not p.csrf_token or not csrf_matches(csrf_token, p.csrf_token):
        raise CsrfFailed("stale form; reload the page")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        auth.end_session(session, cookie)
        session.commit()
    r = RedirectResponse("/login", status_code=303)
    r.delete_cookie(SESSION_COOKIE, path="/")
    return r


@router.get("/", response_class=HTMLResponse)
def queue(request: Request, p: ConsoleUser, session: SessionDep) -> HTMLResponse:
    active = session.scalars(
        select(Alarm)
        .where(Alarm.status != alarms.RESOLVED)
        .order_by(Alarm.priority, Alarm.raised_at.desc())
    )
    recent = session.scalars(
        select(Alarm)
        .where(Alarm.status == alarms.RESOLVED)
        .order_by(Alarm.resolved_at.desc())
        .limit(8)
    )
    return page(
        request,
        "queue.html",
        p,
        alarms=[alarms.payload(session, a) for a in active],
        recent=[alarms.payload(session, a) for a in recent],
        nav="queue",
    )


@router.get("/alarms/{alarm_id}", response_class=HTMLResponse)
def alarm_page(
    alarm_id: RowId, request: Request, p: ConsoleUser, session: SessionDep
) -> HTMLResponse:
    return page(
        request,
        "alarm.html",
        p,
        alarm=alarm_detail(session, alarms.get(session, alarm_id)),
        relay_window=f"{ingest.MAX_RELAY_DELAY.days} days",
        outcomes=alarms.OUTCOMES,
        incident_types=reports.INCIDENT_TYPES,
        nav="queue",
    )


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


@router.get("/workers", response_class=HTMLResponse)
def workers_page(request: Request, p: ConsoleUser, session: SessionDep) -> HTMLResponse:
    workers = [
        worker_out(session, w) for w in session.scalars(select(Worker).order_by(Worker.name))
    ]
    return page(
        request,
        "workers.html",
        p,
        workers=workers,
        enrolment_minutes=int(phones.ENROLMENT_TTL.total_seconds() // 60),
        nav="workers",
    )


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, p: ConsoleUser, session: SessionDep) -> HTMLResponse:
    report = reports.incident_report(session)
    charts = {
        "By type": report["by_type"],
        "By team": report["by_team"],
        "By month": report["by_month"],
    }
    arc = arc_forwarding.health(session)
    return page(request, "reports.html", p, report=report, charts=charts, arc=arc, nav="reports")
