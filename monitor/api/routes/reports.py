"""Reports over a date range (operators; supervisors get their teams only): incidents by month,
team and type, alarm answer times per kind with their rows as CSV. ARC links for operators and
rejected-frame counters for admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from monitor.api.deps import CurrentAdmin, CurrentOperator, ScopeDep, SessionDep
from monitor.api.routes.incidents import DatesDep, csv_response
from monitor.schemas import AnswerTimes, ArcLinkOut, IncidentReport, Rejections
from monitor.serialise import rejections as rejection_counts
from monitor.services import arc_forwarding, reports

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/incidents", response_model=IncidentReport)
def incidents(
    _: CurrentOperator, view: ScopeDep, session: SessionDep, range_: DatesDep
) -> dict[str, Any]:
    return reports.incident_report(session, view, range_)


@router.get("/answer-times", response_model=AnswerTimes)
def answer_times(
    _: CurrentOperator, view: ScopeDep, session: SessionDep, range_: DatesDep
) -> dict[str, Any]:
    """Per alarm kind: seconds from the monitor storing an alarm to its answer, the median and
    the shares within 10 s and 40 s (BS 8484). services/reports.py defines each figure."""
    return reports.answer_times(session, view, range_)


@router.get(
    "/alarms.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per alarm"}},
)
def alarms_csv(
    _: CurrentOperator, view: ScopeDep, session: SessionDep, range_: DatesDep
) -> Response:
    """The rows behind the answer times: one per alarm, with its kind, when it was stored and
    answered, the seconds between and whether it counts within 10 s and 40 s."""
    return csv_response(
        reports.alarms_csv(reports.alarm_rows(session, view, range_)), "alarms", range_
    )


@router.get("/rejections", response_model=Rejections)
def rejections(_: CurrentAdmin, session: SessionDep) -> dict[str, Any]:
    return rejection_counts(session)


@router.get("/arc", response_model=list[ArcLinkOut])
def arc_links(_: CurrentOperator, session: SessionDep) -> list[dict[str, Any]]:
    """Each alarm receiving centre's link: an operator must see that the ARC is not getting
    alarms, not assume it is."""
    return arc_forwarding.health(session)
