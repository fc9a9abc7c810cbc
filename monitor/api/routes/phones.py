"""Phones: enrolment codes (operators), redeeming one (the phone, anonymous and throttled), and
visit memos (the phone's token). Relaying, downlinks and health use the gateway routes."""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from monitor.api.deps import (
    CurrentGateway,
    CurrentOperator,
    KeyBoxDep,
    Principal,
    RefId,
    ScopeDep,
    SessionDep,
    client_address,
    operator_user,
)
from monitor.errors import EnrolmentExpired, EnrolmentUnknown, EnrolmentUsed, Forbidden
from monitor.models import Worker
from monitor.schemas import EnrolmentOut, Redeemed, VisitOut
from monitor.services import phones
from monitor.services.auth import LoginThrottle

router = APIRouter(prefix="/v1/phones", tags=["phones"])

# Whoever tries codes from one address is slowed like a password guesser (services/auth.py
# LoginThrottle), all codes counting as one account: 50-bit codes alive for 15 minutes leave
# nothing to find at a few guesses per window.
_REDEEM_ACCOUNT = "phone-enrolment"


def get_redeem_throttle(request: Request) -> LoginThrottle:
    t: LoginThrottle = request.app.state.redeem_throttle
    return t


RedeemThrottleDep = Annotated[LoginThrottle, Depends(get_redeem_throttle)]


class EnrolmentIn(BaseModel):
    worker_id: RefId


class RedeemIn(BaseModel):
    code: str = Field(min_length=1, max_length=40)
    app_version: str = Field(min_length=1, max_length=40)
    name: str | None = Field(default=None, max_length=120)


class VisitIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    device_id: int = Field(ge=0, le=0xFFFFFF)
    where: str = Field(min_length=1, max_length=120)
    with_: str | None = Field(default=None, alias="with", max_length=120)


def require_phone(gw: CurrentGateway) -> Principal:
    if gw.gateway is None or gw.gateway.kind != phones.PHONE:
        raise Forbidden("phone tokens only")
    return gw


CurrentPhone = Annotated[Principal, Depends(require_phone)]


@router.post("/enrolments", status_code=201, response_model=EnrolmentOut)
def create_enrolment(
    body: EnrolmentIn, request: Request, op: CurrentOperator, view: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    """A one-time code for the worker's phone, valid ENROLMENT_TTL, and its QR code."""
    worker = session.get(Worker, body.worker_id)
    if worker is not None:
        view.check_worker(worker)  # a supervisor enrols phones for their own teams only
    row, code = phones.create_enrolment(session, op.actor, operator_user(op).id, body.worker_id)
    session.commit()
    path = f"/phone/#code={code}"
    absolute = str(request.base_url).rstrip("/") + path
    return {
        "id": row.id,
        "code": code,
        "expires_at": row.expires_at.isoformat(),
        "url": path,
        "qr_svg": segno.make(absolute, error="m").svg_inline(
            scale=4, title="Vigil phone enrolment"
        ),
    }


@router.post("/redeem", response_model=Redeemed, status_code=201)
def redeem(
    body: RedeemIn,
    request: Request,
    session: SessionDep,
    keybox: KeyBoxDep,
    throttle: RedeemThrottleDep,
) -> dict[str, Any]:
    """Spend an enrolment code: the phone's gateway token (scoped to the worker) and its own
    device identity and key, each shown this once."""
    addr = client_address(request)
    throttle.check(addr, _REDEEM_ACCOUNT)
    try:
        got = phones.redeem(session, keybox, body.code, body.app_version, body.name)
    except (EnrolmentUnknown, EnrolmentExpired, EnrolmentUsed):
        session.rollback()
        throttle.failed(addr, _REDEEM_ACCOUNT)
        raise
    session.commit()
    return {
        "gateway_token": got.token,
        "gateway_id": got.gateway.id,
        "worker": {"id": got.worker.id, "name": got.worker.name},
        "device": {"id": got.device.id, "key": got.key.hex()},
    }


@router.post("/visit", response_model=VisitOut)
def visit(body: VisitIn, phone: CurrentPhone, session: SessionDep) -> dict[str, Any]:
    """The memo of the visit the phone starts (the timer itself is a signed CHECKIN_START
    frame): shown on the checkin_overdue alarm if the worker does not end the visit."""
    assert phone.gateway is not None
    d = phones.set_visit(session, phone.gateway, body.device_id, body.where, body.with_)
    session.commit()
    return {"device_id": d.id, "where": d.visit_where, "with": d.visit_with}
