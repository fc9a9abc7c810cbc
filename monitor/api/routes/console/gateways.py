"""Gateways and phones (admins): create a gateway (its token shown once, with the command that
runs it), revoke gateways and phones, and see when each last called and what it holds."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from monitor.api.deps import SessionDep
from monitor.api.routes.console.accounts import ConsoleAdmin
from monitor.api.routes.console.common import page
from monitor.models import Gateway, Worker
from monitor.services import phones

router = APIRouter(include_in_schema=False)


@router.get("/gateways", response_class=HTMLResponse)
def gateways_page(request: Request, p: ConsoleAdmin, session: SessionDep) -> HTMLResponse:
    everything = session.scalars(select(Gateway).order_by(Gateway.id)).all()
    names = {w.id: w.name for w in session.scalars(select(Worker))}
    return page(
        request,
        "gateways.html",
        p,
        gateways=[g for g in everything if g.kind != phones.PHONE],
        phones=[
            {"gateway": g, "worker": names.get(g.worker_id) if g.worker_id else None}
            for g in everything
            if g.kind == phones.PHONE
        ],
        # The monitor's own address as the browser reached it: what the gateway must call.
        monitor_url=str(request.base_url).rstrip("/"),
        nav="gateways",
    )
