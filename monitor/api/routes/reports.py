"""Incident trends and ARC links (operators) and rejected-frame counters (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from monitor.api.deps import CurrentAdmin, CurrentOperator, SessionDep
from monitor.schemas import ArcLinkOut, IncidentReport, Rejections
from monitor.serialise import rejections as rejection_counts
from monitor.services import arc_forwarding, reports

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/incidents", response_model=IncidentReport)
def incidents(_: CurrentOperator, session: SessionDep) -> dict[str, Any]:
    return reports.incident_report(session)


@router.get("/rejections", response_model=Rejections)
def rejections(_: CurrentAdmin, session: SessionDep) -> dict[str, Any]:
    return rejection_counts(session)


@router.get("/arc", response_model=list[ArcLinkOut])
def arc_links(_: CurrentOperator, session: SessionDep) -> list[dict[str, Any]]:
    """Each alarm receiving centre's link: an operator must see that the ARC is not getting
    alarms, not assume it is."""
    return arc_forwarding.health(session)
