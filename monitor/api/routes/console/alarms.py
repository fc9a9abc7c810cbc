"""The alarm queue and one alarm: live updates come from /v1/alarms/stream."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from monitor.api.deps import RowId, ScopeDep, SessionDep
from monitor.api.routes.console.common import ConsoleUser, page
from monitor.models import Alarm, Incident
from monitor.serialise import alarm_detail
from monitor.services import alarms, ingest

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def queue(request: Request, p: ConsoleUser, view: ScopeDep, session: SessionDep) -> HTMLResponse:
    mine = view.alarm_clause()
    active = session.scalars(
        view.filter(select(Alarm).where(Alarm.status != alarms.RESOLVED), mine).order_by(
            Alarm.priority, Alarm.raised_at.desc()
        )
    )
    recent = session.scalars(
        view.filter(select(Alarm).where(Alarm.status == alarms.RESOLVED), mine)
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
    alarm_id: RowId, request: Request, p: ConsoleUser, view: ScopeDep, session: SessionDep
) -> HTMLResponse:
    return page(
        request,
        "alarm.html",
        p,
        alarm=alarm_detail(session, view.check_alarm(session, alarms.get(session, alarm_id))),
        relay_window=f"{ingest.MAX_RELAY_DELAY.days} days",
        outcomes=alarms.OUTCOMES,
        incident_id=session.scalar(select(Incident.id).where(Incident.alarm_id == alarm_id)),
        nav="queue",
    )
