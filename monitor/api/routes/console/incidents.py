"""Incidents: the filtered list with its CSV link, the form to record one, and one incident.

The list's filters are a plain GET form: a bad value is shown back with what is wrong, never a
bare 422, and nothing the person typed is lost. Recording goes through POST /v1/incidents."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.api.deps import RowId, ScopeDep, SessionDep
from monitor.api.routes.console.common import ConsoleUser, page
from monitor.errors import InvalidInput
from monitor.models import Incident, Team, Worker
from monitor.services import alarms, incidents
from monitor.services.date_range import DateRange
from monitor.services.scope import Scope

router = APIRouter(include_in_schema=False)

PAGE_ROWS = 500  # the newest; the CSV link has every row the filters match


def parse_day(name: str, text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name}: {text!r} is not a date like 2026-11-23", field=name) from None


def parse_range(start: str | None, end: str | None) -> DateRange:
    return DateRange(parse_day("from", start), parse_day("to", end))


def workers_in(session: Session, view: Scope) -> list[Worker]:
    return list(
        session.scalars(view.filter(select(Worker), view.worker_clause()).order_by(Worker.name))
    )


def teams_in(session: Session, view: Scope) -> list[str]:
    names = set(session.scalars(select(Team.name)))
    names |= {t for t in session.scalars(select(Incident.team).distinct()) if t}
    return sorted(n for n in names if view.sees_team(n))


def _filters(
    type_: str | None, team: str | None, worker: str | None, dates: DateRange
) -> incidents.Filters:
    if type_ and type_ not in incidents.KNOWN_TYPES:
        raise InvalidInput(f"type: no incident type {type_!r}", field="type")
    worker_id = None
    if worker:
        # isascii: str.isdigit() also says yes to '²', which int() refuses.
        if not (worker.isascii() and worker.isdigit()) or not 1 <= int(worker) <= 2**31 - 1:
            raise InvalidInput(f"worker: {worker!r} is not a worker id", field="worker")
        worker_id = int(worker)
    return incidents.Filters(type_ or None, team or None, worker_id, dates)


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(
    request: Request,
    p: ConsoleUser,
    view: ScopeDep,
    session: SessionDep,
    type_: str | None = Query(None, alias="type", max_length=40),
    team: str | None = Query(None, max_length=80),
    worker: str | None = Query(None, max_length=12),
    from_: str | None = Query(None, alias="from", max_length=12),
    to: str | None = Query(None, max_length=12),
) -> HTMLResponse:
    asked = {"type": type_, "team": team, "worker": worker, "from": from_, "to": to}
    error, rows, total = None, [], 0
    query: dict[str, str] = {}
    try:
        f = _filters(type_, team, worker, parse_range(from_, to))
        found = incidents.query(session, view, f, PAGE_ROWS)
        rows = [incidents.out(session, i) for i in found]
        total = len(rows) if len(rows) < PAGE_ROWS else incidents.count(session, view, f)
        query = {k: v for k, v in asked.items() if v}
        if "worker" in query:
            query["worker_id"] = query.pop("worker")
    except InvalidInput as e:
        error = e.message
    return page(
        request,
        "incidents.html",
        p,
        rows=rows,
        total=total,
        asked=asked,
        error=error,
        csv_href="/v1/incidents.csv" + ("?" + urlencode(query) if query else ""),
        types=incidents.LABELS | incidents.LEGACY_LABELS,
        teams=teams_in(session, view),
        workers=workers_in(session, view),
        nav="incidents",
    )


@router.get("/incidents/new", response_class=HTMLResponse)
def new_incident_page(
    request: Request,
    p: ConsoleUser,
    view: ScopeDep,
    session: SessionDep,
    alarm_id: int | None = Query(None, ge=1, le=2**31 - 1),
) -> HTMLResponse:
    alarm: dict[str, Any] | None = None
    if alarm_id is not None:
        a = view.check_alarm(session, alarms.get(session, alarm_id))
        alarm = {"id": a.id, "kind": a.kind, "raised_at": a.raised_at, "status": a.status}
        alarm["worker_id"] = a.worker_id
        alarm["filed"] = session.scalar(select(Incident.id).where(Incident.alarm_id == a.id))
    return page(
        request,
        "incident_new.html",
        p,
        alarm=alarm,
        types=incidents.LABELS,
        workers=workers_in(session, view),
        worker_required=not view.everything,
        nav="incidents",
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    incident_id: RowId, request: Request, p: ConsoleUser, view: ScopeDep, session: SessionDep
) -> HTMLResponse:
    inc = incidents.out(session, incidents.get(session, view, incident_id))
    return page(
        request,
        "incident.html",
        p,
        inc=inc,
        updates=incidents.updates(session, incident_id),
        nav="incidents",
    )
