"""Gateways: health reports from gateways; creation (token shown once), listing and revocation
by admins. Phones (routes/phones.py) are gateways of kind "phone": listed and revoked here too."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from monitor.api.deps import CurrentAdmin, CurrentGateway, KeyBoxDep, RowId, SessionDep
from monitor.errors import NotFound
from monitor.models import Device, Gateway, utcnow
from monitor.schemas import GatewayCreated, GatewayOut
from monitor.serialise import gateway_out
from monitor.services import audit, phones, provisioning

router = APIRouter(prefix="/v1/gateways", tags=["gateways"])


class LinkHealth(BaseModel):
    device_id: int | None = Field(default=None, ge=0, le=0xFFFFFF)
    link: Literal["serial", "ble"]
    port: str = Field(max_length=200)
    connected: bool


class HealthIn(BaseModel):
    links: list[LinkHealth] = Field(default_factory=list, max_length=1000)
    queue_depth: int | None = Field(default=None, ge=0, le=2**31 - 1)
    version: str | None = Field(default=None, max_length=64)
    # From phones: the app's version (stored as the gateway's version) and the phone's battery.
    app_version: str | None = Field(default=None, max_length=64)
    battery_pct: int | None = Field(default=None, ge=0, le=100)


class GatewayIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)


@router.post("/health", status_code=204)
def post_health(body: HealthIn, gw: CurrentGateway, session: SessionDep) -> Response:
    g = session.get(Gateway, gw.gateway.id if gw.gateway else -1)
    assert g is not None
    g.last_seen_at = utcnow()
    g.version = body.app_version or body.version or g.version
    g.queue_depth = body.queue_depth
    g.links_json = json.dumps([link.model_dump() for link in body.links])
    if body.battery_pct is not None:
        g.battery_pct = body.battery_pct
    session.commit()
    return Response(status_code=204)


@router.get("", response_model=list[GatewayOut])
def list_gateways(_: CurrentAdmin, session: SessionDep) -> list[dict[str, Any]]:
    return [gateway_out(g) for g in session.scalars(select(Gateway).order_by(Gateway.id))]


@router.post("", response_model=GatewayCreated, status_code=201)
def create_gateway(body: GatewayIn, admin: CurrentAdmin, session: SessionDep) -> dict[str, Any]:
    g, token = provisioning.create_gateway(session, admin.actor, body.name)
    session.commit()
    return {"gateway": gateway_out(g), "token": token}


@router.post("/{gateway_id}/revoke", response_model=GatewayOut)
def revoke_gateway(
    gateway_id: RowId, admin: CurrentAdmin, session: SessionDep, keybox: KeyBoxDep
) -> dict[str, Any]:
    g = session.get(Gateway, gateway_id)
    if g is None:
        raise NotFound(f"gateway {gateway_id} does not exist")
    g.revoked_at = g.revoked_at or utcnow()
    audit.record(session, admin.actor, "gateway_revoked", subject=f"gateway:{gateway_id}")
    phone_device = session.get(Device, g.device_id) if g.device_id is not None else None
    if g.kind == phones.PHONE and phone_device is not None:
        # A lost phone holds its own device key too: its SOS frames would still verify
        # through any other gateway. Both end together.
        provisioning.revoke_device(session, admin.actor, phone_device.id)
    session.commit()
    if phone_device is not None and phone_device.revoked_at is not None:
        keybox.forget(phone_device.id)
    return gateway_out(g)
