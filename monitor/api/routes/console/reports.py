"""Reports over a date range: incidents by month, team and type; answer times per alarm kind;
CSV links to the rows behind them; the alarm receiving centres' links."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from monitor.api.deps import ScopeDep, SessionDep
from monitor.api.routes.console.common import ConsoleUser, page
from monitor.api.routes.console.incidents import parse_range
from monitor.errors import InvalidInput
from monitor.services import arc_forwarding, incidents, reports
from monitor.services.date_range import DateRange

router = APIRouter(include_in_schema=False)


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    p: ConsoleUser,
    view: ScopeDep,
    session: SessionDep,
    from_: str | None = Query(None, alias="from", max_length=12),
    to: str | None = Query(None, max_length=12),
) -> HTMLResponse:
    error = None
    try:
        dates = parse_range(from_, to)
    except InvalidInput as e:
        error, dates = e.message, DateRange()
    report = reports.incident_report(session, view, dates)
    answers = reports.answer_times(session, view, dates)
    qs = urlencode(dates.query())
    return page(
        request,
        "reports.html",
        p,
        asked={"from": from_ or "", "to": to or ""},
        error=error,
        range_words=dates.words(),
        report=report,
        tables={
            "By month": ("Month (UTC)", report["by_month"]),
            "By team": ("Team", report["by_team"]),
            "By type": ("Type", {incidents.label(k): v for k, v in report["by_type"].items()}),
        },
        answers=answers["by_kind"],
        limits=reports.LIMITS_S,
        incidents_csv="/v1/incidents.csv" + ("?" + qs if qs else ""),
        alarms_csv="/v1/reports/alarms.csv" + ("?" + qs if qs else ""),
        arc=arc_forwarding.health(session),
        scoped=not view.everything,
        nav="reports",
    )
