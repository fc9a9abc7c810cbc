"""POST /v1/frames (JSON) and /v1/frames/binary (packed): gateways relay batches of signed
uplink frames. Both take one path once parsed (monitor/services/ingest)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from monitor.api.deps import CurrentGateway, KeyBoxDep, SessionDep
from monitor.core import urgency
from monitor.core.urgency import GateEntry
from monitor.errors import BadBatch, UnsupportedMediaType
from monitor.models import utcnow
from monitor.schemas import FramesOut
from monitor.services import ingest, phones
from monitor.services.ingest.bulk_rate import BulkRate
from protocol import relay_batch

router = APIRouter(prefix="/v1", tags=["ingest"])
PACKED = "application/octet-stream"


class FramesIn(BaseModel):
    # Items are validated one by one in the service: a malformed item is rejected with reason
    # "malformed" instead of failing the whole batch with a 422.
    frames: list[Any] = Field(
        max_length=ingest.MAX_BATCH,
        description='Each: {"frame": hex, "received_at": ISO-8601 UTC, "link": "serial"|"ble", '
        '"rssi": int|null, "location": {"lat", "lon", "accuracy_m", "source": '
        '"phone_gps"|"gateway_site", "fix_age_s": int}|null}. A phone\'s token may relay only '
        "its worker's devices' frames; others are rejected one by one as out_of_scope.",
    )


async def _bulk_rate(request: Request) -> BulkRate:
    rate: BulkRate = request.app.state.bulk_rate
    return rate


RateDep = Annotated[BulkRate, Depends(_bulk_rate)]
TOO_FAST: dict[int | str, dict[str, Any]] = {
    429: {"description": "heartbeats over the gateway's cap; Retry-After says when"}
}


@router.post("/frames", response_model=FramesOut, responses=TOO_FAST)
def post_frames(
    body: FramesIn, gw: CurrentGateway, session: SessionDep, keybox: KeyBoxDep, rate: RateDep
) -> JSONResponse:
    assert gw.gateway is not None
    gw.gateway.last_seen_at = utcnow()
    results = ingest.ingest(
        session,
        keybox,
        body.frames,
        gw.gateway.id,
        scope_worker_id=phones.scope_of(gw.gateway),
        rate=rate,
    )
    # Returned as a ready response: re-validating a 1,000-result batch against the response
    # model would cost more than verifying the frames did. The model still documents it.
    return JSONResponse({"results": results})


@dataclass
class PackedBody:
    body: bytes
    entry: GateEntry | None  # its place in urgency.gate when it carries an alarm


async def _packed_body(request: Request) -> AsyncIterator[PackedBody]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != PACKED:
        raise UnsupportedMediaType(f"send the packed batch as {PACKED}, not {kind or 'nothing'}")
    body = await request.body()
    # An alarm in the body: from here to the answer, bulk work in this process steps aside
    # (core/urgency.py). Read from the type bytes alone; parsing comes later.
    if not relay_batch.carries_urgent(body):
        yield PackedBody(body, None)
        return
    with urgency.gate.urgent() as entry, urgency.exempt():
        yield PackedBody(body, entry)


@router.post(
    "/frames/binary",
    response_class=Response,
    responses={
        200: {"content": {PACKED: {}}, "description": "status, reason, ack per frame"},
        **TOO_FAST,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {PACKED: {"schema": {"type": "string", "format": "binary"}}},
            "description": "protocol/relay_batch.py; docs/monitor.md, 'Binary ingest'",
        }
    },
)
def post_frames_binary(
    packed: Annotated[PackedBody, Depends(_packed_body)],
    gw: CurrentGateway,
    session: SessionDep,
    keybox: KeyBoxDep,
    rate: RateDep,
) -> Response:
    """The JSON endpoint's work for a packed body: what a relay sends, a fraction of the bytes
    and of the parsing. A body that does not add up is a 400 and nothing in it is applied."""
    assert gw.gateway is not None
    gw.gateway.last_seen_at = utcnow()
    try:
        reply = ingest.ingest_packed(
            session,
            keybox,
            packed.body,
            gw.gateway.id,
            scope_worker_id=phones.scope_of(gw.gateway),
            rate=rate,
            entry=packed.entry,
        )
    except relay_batch.BadBatch as e:
        raise BadBatch(str(e)) from e
    return Response(reply, media_type=PACKED)
