"""Workers: profile, risk notes, escalation contacts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, HttpUrl
from sqlalchemy import delete, select

from monitor.api.deps import CurrentAdmin, CurrentOperator, RowId, SessionDep
from monitor.errors import NotFound
from monitor.models import Contact, Worker
from monitor.schemas import WorkerOut
from monitor.serialise import worker_out
from monitor.services import audit

router = APIRouter(prefix="/v1/workers", tags=["workers"])


class WorkerIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    phone: str | None = Field(default=None, max_length=40)
    team: str | None = Field(default=None, max_length=80)
    risk_notes: str | None = Field(default=None, max_length=8000)


class ContactIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    webhook_url: HttpUrl
    delay_s: int = Field(ge=0, le=86400, description="seconds after the alarm was received")


def _get(session: Any, worker_id: int) -> Worker:
    w: Worker | None = session.get(Worker, worker_id)
    if w is None:
        raise NotFound(f"worker {worker_id} does not exist")
    return w


@router.get("", response_model=list[WorkerOut])
def list_workers(_: CurrentOperator, session: SessionDep) -> list[dict[str, Any]]:
    return [worker_out(session, w) for w in session.scalars(select(Worker).order_by(Worker.name))]


@router.post("", response_model=WorkerOut, status_code=201)
def create_worker(body: WorkerIn, admin: CurrentAdmin, session: SessionDep) -> dict[str, Any]:
    w = Worker(**body.model_dump())
    session.add(w)
    session.flush()
    audit.record(session, admin.actor, "worker_created", subject=f"worker:{w.id}")
    session.commit()
    return worker_out(session, w)


@router.get("/{worker_id}", response_model=WorkerOut)
def get_worker(worker_id: RowId, _: CurrentOperator, session: SessionDep) -> dict[str, Any]:
    return worker_out(session, _get(session, worker_id))


@router.put("/{worker_id}", response_model=WorkerOut)
def update_worker(
    worker_id: RowId, body: WorkerIn, admin: CurrentAdmin, session: SessionDep
) -> dict[str, Any]:
    w = _get(session, worker_id)
    for k, v in body.model_dump().items():
        setattr(w, k, v)
    audit.record(session, admin.actor, "worker_updated", subject=f"worker:{w.id}")
    session.commit()
    return worker_out(session, w)


@router.put("/{worker_id}/contacts", response_model=WorkerOut)
def set_contacts(
    worker_id: RowId, body: list[ContactIn], admin: CurrentAdmin, session: SessionDep
) -> dict[str, Any]:
    w = _get(session, worker_id)
    session.execute(delete(Contact).where(Contact.worker_id == w.id))
    for i, c in enumerate(body):
        session.add(
            Contact(
                worker_id=w.id,
                position=i,
                name=c.name,
                webhook_url=str(c.webhook_url),
                delay_s=c.delay_s,
            )
        )
    audit.record(
        session, admin.actor, "contacts_set", subject=f"worker:{w.id}", details={"count": len(body)}
    )
    session.commit()
    return worker_out(session, w)
