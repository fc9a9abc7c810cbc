"""Workers: profile, risk notes and assessments, escalation contacts.

Operators see every worker's profile and contacts but not their risk notes or assessment (they
read those on the alarm page, when they answer that worker's alarm). Supervisors see and keep
the records of their own teams' workers; admins, everyone's."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field, HttpUrl, model_validator
from sqlalchemy import delete, select

from monitor.api.deps import (
    CurrentManager,
    CurrentOperator,
    Principal,
    RowId,
    ScopeDep,
    SessionDep,
    operator_user,
)
from monitor.channels.email import valid_email
from monitor.channels.phone_numbers import e164
from monitor.errors import Forbidden, NotFound, NotifyFailed
from monitor.models import Contact, Team, Worker
from monitor.schemas import ReviewDueOut, RiskOut, WorkerOut
from monitor.serialise import worker_out, workers_out
from monitor.services import audit, risk, scope

router = APIRouter(prefix="/v1/workers", tags=["workers"])


class WorkerIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    phone: str | None = Field(default=None, max_length=40)
    team: str | None = Field(default=None, max_length=80)
    risk_notes: str | None = Field(default=None, max_length=8000)
    email: str | None = Field(default=None, max_length=200)
    job_title: str | None = Field(default=None, max_length=120)

    @model_validator(mode="after")
    def _email_is_one(self) -> WorkerIn:
        if self.email is not None and not valid_email(self.email):
            raise ValueError(f"not an e-mail address: {self.email!r}")
        return self


class RiskIn(BaseModel):
    hazards: str = Field(min_length=1, max_length=8000)
    controls: str = Field(min_length=1, max_length=8000)
    level: Literal[risk.LEVELS]  # type: ignore[valid-type]
    owner: str = Field(min_length=1, max_length=120)
    review_due: dt.date
    reason: str | None = Field(default=None, max_length=200)


class ContactIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    channel: Literal["webhook", "email", "sms_modem", "sms_http"] = "webhook"
    address: str | None = Field(
        default=None,
        max_length=500,
        description="webhook: https URL; email: an e-mail address; sms_*: an E.164 number",
    )
    # Clients written before channels send only this; it stands for channel=webhook.
    webhook_url: HttpUrl | None = None
    delay_s: int = Field(ge=0, le=86400, description="seconds after the alarm was received")

    @model_validator(mode="after")
    def _address_fits_channel(self) -> ContactIn:
        if self.channel == "webhook":
            if self.address is None and self.webhook_url is None:
                raise ValueError("a webhook contact needs address (or webhook_url)")
            if self.address is not None:
                self.webhook_url = HttpUrl(self.address)  # raises for anything not a URL
            self.address = str(self.webhook_url)
            return self
        if self.webhook_url is not None:
            raise ValueError(f"webhook_url is for webhook contacts, not {self.channel}")
        if not self.address:
            raise ValueError(f"a {self.channel} contact needs an address")
        if self.channel == "email" and not valid_email(self.address):
            raise ValueError(f"not an e-mail address: {self.address!r}")
        if self.channel.startswith("sms_"):
            try:
                self.address = e164(self.address)
            except NotifyFailed as e:
                raise ValueError(str(e)) from e
        return self


def _get(session: Any, view: scope.Scope, worker_id: int) -> Worker:
    w: Worker | None = session.get(Worker, worker_id)
    if w is None:
        raise NotFound(f"worker {worker_id} does not exist")
    return view.check_worker(w)


def _team_allowed(session: Any, view: scope.Scope, team: str | None) -> None:
    """A supervisor keeps workers in their own teams. A team an admin names for the first time
    is created, so scripts written before teams existed keep working."""
    if not view.sees_team(team):
        raise Forbidden("supervisors keep workers in their own teams only")
    if team is not None and session.scalar(select(Team.id).where(Team.name == team)) is None:
        session.add(Team(name=team))
        session.flush()


def sees_risk(p: Principal) -> bool:
    return p.role in (scope.SUPERVISOR, "admin")


@router.get("", response_model=list[WorkerOut])
def list_workers(p: CurrentOperator, view: ScopeDep, session: SessionDep) -> list[dict[str, Any]]:
    q = view.filter(select(Worker), view.worker_clause()).order_by(Worker.name)
    return workers_out(session, list(session.scalars(q)), sees_risk(p))


@router.get("/reviews-due", response_model=list[ReviewDueOut])
def reviews_due(_: CurrentManager, view: ScopeDep, session: SessionDep) -> list[dict[str, Any]]:
    """Workers whose risk assessment needs attention: overdue, never done, an incident since
    the last one, or due within 30 days."""
    return risk.reviews_due(session, view)


@router.post("", response_model=WorkerOut, status_code=201)
def create_worker(
    body: WorkerIn, admin: CurrentManager, view: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    if not view.everything and body.team is None:
        raise Forbidden("a supervisor's new worker must be in one of their teams")
    _team_allowed(session, view, body.team)
    w = Worker(**body.model_dump())
    session.add(w)
    session.flush()
    audit.record(session, admin.actor, "worker_created", subject=f"worker:{w.id}")
    session.commit()
    return worker_out(session, w)


@router.get("/{worker_id}", response_model=WorkerOut)
def get_worker(
    worker_id: RowId, p: CurrentOperator, view: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    return worker_out(session, _get(session, view, worker_id), sees_risk(p))


@router.put("/{worker_id}", response_model=WorkerOut)
def update_worker(
    worker_id: RowId, body: WorkerIn, admin: CurrentManager, view: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    w = _get(session, view, worker_id)
    if body.team != w.team:
        _team_allowed(session, view, body.team)
    changed = [k for k, v in body.model_dump().items() if getattr(w, k) != v]
    for k, v in body.model_dump().items():
        setattr(w, k, v)
    audit.record(
        session,
        admin.actor,
        "worker_updated",
        subject=f"worker:{w.id}",
        details={"changed": changed},
    )
    session.commit()
    return worker_out(session, w)


@router.put("/{worker_id}/contacts", response_model=WorkerOut)
def set_contacts(
    worker_id: RowId,
    body: Annotated[list[ContactIn], Body(max_length=20)],
    admin: CurrentManager,
    view: ScopeDep,
    session: SessionDep,
) -> dict[str, Any]:
    """The escalation ladder, in order: each contact is called `delay_s` after the alarm was
    received if nobody has acknowledged it by then."""
    w = _get(session, view, worker_id)
    session.execute(delete(Contact).where(Contact.worker_id == w.id))
    for i, c in enumerate(body):
        session.add(
            Contact(
                worker_id=w.id,
                position=i,
                name=c.name,
                channel=c.channel,
                address=c.address,
                webhook_url=str(c.webhook_url) if c.webhook_url else None,
                delay_s=c.delay_s,
            )
        )
    audit.record(
        session, admin.actor, "contacts_set", subject=f"worker:{w.id}", details={"count": len(body)}
    )
    session.commit()
    return worker_out(session, w)


@router.get("/{worker_id}/risk", response_model=RiskOut)
def get_risk(
    worker_id: RowId, _: CurrentManager, view: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    w = _get(session, view, worker_id)
    latest = risk.current(session, w.id)
    return {
        "current": risk.out(session, latest) if latest else None,
        "history": risk.history(session, w.id),
        "incidents_since": risk.incidents_since(session, w.id),
    }


@router.post("/{worker_id}/risk", response_model=RiskOut, status_code=201)
def assess_risk(
    worker_id: RowId, body: RiskIn, p: CurrentManager, view: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    """Save a new version of the worker's risk assessment; the old ones stay as its history."""
    w = _get(session, view, worker_id)
    risk.save(session, operator_user(p), w, **body.model_dump())
    session.commit()
    return get_risk(worker_id, p, view, session)
