"""Incident trends (operators) and rejected-frame counters (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from monitor.api.deps import CurrentAdmin, CurrentOperator, SessionDep
from monitor.schemas import IncidentReport, Rejections
from monitor.serialise import rejections as rejection_counts
from monitor.services import reports

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/incidents", response_model=IncidentReport)
def incidents(_: CurrentOperator, session: SessionDep) -> dict[str, Any]:
    return reports.incident_report(session)


@router.get("/rejections", response_model=Rejections)
def rejections(_: CurrentAdmin, session: SessionDep) -> dict[str, Any]:
    return rejection_counts(session)
