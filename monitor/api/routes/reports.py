"""Incident trends (operators) and rejected-frame counters (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from monitor.api.deps import CurrentAdmin, CurrentOperator, SessionDep
from monitor.models import RejectionCount
from monitor.services import reports

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/incidents")
def incidents(_: CurrentOperator, session: SessionDep) -> dict[str, Any]:
    return reports.incident_report(session)


@router.get("/rejections")
def rejections(_: CurrentAdmin, session: SessionDep) -> dict[str, Any]:
    rows = session.scalars(select(RejectionCount).order_by(RejectionCount.reason))
    return {
        r.reason: {
            "count": r.count,
            "last_at": r.last_at.isoformat() if r.last_at else None,
            "last_device_id": r.last_device_id,
            "last_gateway_id": r.last_gateway_id,
        }
        for r in rows
    }
