"""Incident and answer-time reports."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from monitor.api.deps import SessionDep
from monitor.api.routes.console.common import ConsoleUser, page
from monitor.services import arc_forwarding, reports

router = APIRouter(include_in_schema=False)


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
