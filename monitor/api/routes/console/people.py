"""Workers: profile, escalation contacts, risk assessment, phones."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from monitor.api.deps import SessionDep
from monitor.api.routes.console.common import ConsoleUser, page
from monitor.models import Worker
from monitor.serialise import worker_out
from monitor.services import phones

router = APIRouter(include_in_schema=False)


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
