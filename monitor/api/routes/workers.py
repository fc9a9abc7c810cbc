"""Workers: profile, risk notes, escalation contacts."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, HttpUrl, model_validator
from sqlalchemy import delete, select

from monitor.api.deps import CurrentAdmin, CurrentOperator, RowId, SessionDep
from monitor.channels.email import valid_email
from monitor.channels.phone_numbers import e164
from monitor.errors import NotFound, NotifyFailed
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
