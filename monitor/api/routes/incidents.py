"""Incidents with or without an alarm: record, list with filters, read one, export as CSV.

Supervisors record and see only their teams' workers' incidents (ScopeDep)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field

from monitor.api.deps import CurrentOperator, RefId, RowId, ScopeDep, SessionDep, operator_user
from monitor.schemas import IncidentDetail
from monitor.services import incidents
from monitor.services.date_range import DateRange

router = APIRouter(tags=["incidents"])

_TEXT = 4000  # a long free-text field: what happened, who was there, what was done


class IncidentAccount(BaseModel):
    """What was recorded about an incident, each part optional: filled in when it is reported
    or later, as the follow-up finds it out."""

    location: str | None = Field(default=None, max_length=200)
    reported_by: str | None = Field(default=None, max_length=120)
    people_involved: str | None = Field(default=None, max_length=_TEXT)
    police_reference: str | None = Field(default=None, max_length=60)
    actions_taken: str | None = Field(default=None, max_length=_TEXT)
    lessons_learnt: str | None = Field(default=None, max_length=_TEXT)
    summary: str | None = Field(default=None, max_length=_TEXT)


class IncidentIn(IncidentAccount):
    type: Literal[incidents.TYPES] = Field(  # type: ignore[valid-type]
        description="one of " + ", ".join(incidents.TYPES)
    )
    occurred_at: AwareDatetime | None = Field(
        default=None,
        description="when it happened, with an offset; not in the future. Leave out only with "
        "alarm_id: the alarm's raise time is used",
    )
    alarm_id: RefId | None = Field(default=None, description="a resolved alarm not yet filed")
    worker_id: RefId | None = Field(
        default=None, description="required for supervisors; taken from the alarm when left out"
    )


class IncidentFollowUp(IncidentAccount):
    """Only the fields given change; an empty string clears one."""

    model_config = {"extra": "forbid"}  # type, time and worker stay as recorded


def dates(
    from_: Annotated[dt.date | None, Query(alias="from", description="first day, UTC")] = None,
    to: Annotated[dt.date | None, Query(description="last day, included, UTC")] = None,
) -> DateRange:
    return DateRange(from_, to)


DatesDep = Annotated[DateRange, Depends(dates)]


def filters(
    range_: DatesDep,
    type: Annotated[Literal[incidents.KNOWN_TYPES] | None, Query()] = None,  # type: ignore[valid-type]
    team: Annotated[str | None, Query(max_length=80)] = None,
    worker_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> incidents.Filters:
    return incidents.Filters(type=type, team=team or None, worker_id=worker_id, dates=range_)


FiltersDep = Annotated[incidents.Filters, Depends(filters)]


@router.post("/v1/incidents", response_model=IncidentDetail, status_code=201)
def record(
    body: IncidentIn, op: CurrentOperator, view: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    inc = incidents.record(session, view, operator_user(op), incidents.Details(**body.model_dump()))
    session.commit()
    return incidents.out(session, inc)


@router.get("/v1/incidents", response_model=list[IncidentDetail])
def list_incidents(
    _: CurrentOperator,
    view: ScopeDep,
    session: SessionDep,
    f: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="newest first")] = 1000,
) -> list[dict[str, Any]]:
    return [incidents.out(session, i) for i in incidents.query(session, view, f, limit)]


@router.get(
    "/v1/incidents.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per incident"}},
)
def incidents_csv(
    _: CurrentOperator, view: ScopeDep, session: SessionDep, f: FiltersDep
) -> Response:
    """The same rows and filters as GET /v1/incidents, for a spreadsheet. Cells a spreadsheet
    would run as a formula start with an apostrophe."""
    text = incidents.csv_text(session, incidents.query(session, view, f))
    return csv_response(text, "incidents", f.dates)


@router.get("/v1/incidents/{incident_id}", response_model=IncidentDetail)
def get_incident(
    incident_id: RowId, _: CurrentOperator, view: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    return incidents.out(session, incidents.get(session, view, incident_id))


@router.patch("/v1/incidents/{incident_id}", response_model=IncidentDetail)
def follow_up(
    incident_id: RowId,
    body: IncidentFollowUp,
    op: CurrentOperator,
    view: ScopeDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Add the follow-up to a record: a police reference, actions taken, lessons learnt."""
    inc = incidents.update(
        session, view, operator_user(op), incident_id, body.model_dump(exclude_unset=True)
    )
    session.commit()
    return incidents.out(session, inc)


def csv_response(text: str, name: str, range_: DateRange) -> Response:
    span = "-".join(range_.query().values()) or "all"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="vigil-{name}-{span}.csv"'},
    )
