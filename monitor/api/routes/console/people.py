"""Workers: the list, one worker's profile, escalation contacts, risk assessment and phone, and
the risk reviews that are due. Operators read profiles (risk notes only on an alarm's page);
supervisors and admins keep them, a supervisor only in their own teams."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from monitor.api.deps import RowId, ScopeDep, SessionDep
from monitor.api.routes.console.common import ConsoleManager, ConsoleUser, page
from monitor.api.routes.workers import sees_risk
from monitor.errors import NotFound
from monitor.models import Device, Gateway, Incident, Team, Worker, utcnow
from monitor.serialise import worker_out, workers_out
from monitor.services import phones, risk, scope

router = APIRouter(include_in_schema=False)

CHANNELS = {
    "webhook": "Webhook (https URL)",
    "email": "E-mail",
    "sms_modem": "SMS by modem",
    "sms_http": "SMS by HTTP gateway",
}


def _offices(session: Any) -> dict[str, str]:
    return {t.name: t.office for t in session.scalars(select(Team)) if t.office}


def _teams(session: Any, view: scope.Scope) -> list[str]:
    """The teams a manager may put a worker in."""
    names = list(session.scalars(select(Team.name).order_by(Team.name)))
    return [n for n in names if view.sees_team(n)]


@router.get("/workers", response_class=HTMLResponse)
def workers_page(
    request: Request, p: ConsoleUser, view: ScopeDep, session: SessionDep
) -> HTMLResponse:
    rows = session.scalars(view.filter(select(Worker), view.worker_clause()).order_by(Worker.name))
    workers = workers_out(session, list(rows), with_risk=sees_risk(p))
    return page(
        request,
        "workers.html",
        p,
        workers=workers,
        teams=_teams(session, view),
        offices=_offices(session),
        manager=sees_risk(p),
        due=len(risk.reviews_due(session, view)) if sees_risk(p) else 0,
        nav="workers",
    )


@router.get("/workers/reviews", response_class=HTMLResponse)
def reviews_page(
    request: Request, p: ConsoleManager, view: ScopeDep, session: SessionDep
) -> HTMLResponse:
    return page(
        request, "worker_reviews.html", p, reviews=risk.reviews_due(session, view), nav="workers"
    )


@router.get("/workers/{worker_id}", response_class=HTMLResponse)
def worker_page(
    worker_id: RowId, request: Request, p: ConsoleUser, view: ScopeDep, session: SessionDep
) -> HTMLResponse:
    w = session.get(Worker, worker_id)
    if w is None:
        raise NotFound(f"worker {worker_id} does not exist")
    view.check_worker(w)
    manager = sees_risk(p)
    latest = risk.current(session, w.id) if manager else None
    follow_ups = risk.incidents_since(session, w.id) if manager else []
    incidents = session.scalars(
        select(Incident).where(Incident.worker_id == w.id).order_by(Incident.occurred_at.desc())
    ).all()
    fobs = session.scalars(select(Device).where(Device.worker_id == w.id).order_by(Device.id))
    # Their phones, revoked ones too: one still calling may hold their alarm, and whoever looks
    # after the worker (not only the admin on /gateways) must see that.
    worker_phones = session.scalars(
        select(Gateway)
        .where(Gateway.kind == phones.PHONE, Gateway.worker_id == w.id)
        .order_by(Gateway.id)
    ).all()
    return page(
        request,
        "worker.html",
        p,
        w=worker_out(session, w, with_risk=manager),
        manager=manager,
        teams=_teams(session, view),
        office=_offices(session).get(w.team or ""),
        channels=CHANNELS,
        levels=risk.LEVELS,
        current=risk.out(session, latest) if latest else None,
        history=risk.history(session, w.id) if manager else [],
        follow_ups=follow_ups,
        incidents=incidents,
        fobs=list(fobs),
        phones=worker_phones,
        today=utcnow().date().isoformat(),
        enrolment_minutes=int(phones.ENROLMENT_TTL.total_seconds() // 60),
        nav="workers",
    )
