"""POST /v1/frames: gateways relay batches of signed uplink frames."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from monitor.api.deps import CurrentGateway, KeyBoxDep, SessionDep
from monitor.models import utcnow
from monitor.schemas import FramesOut
from monitor.services import ingest, phones

router = APIRouter(prefix="/v1", tags=["ingest"])


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


@router.post("/frames", response_model=FramesOut)
def post_frames(
    body: FramesIn, gw: CurrentGateway, session: SessionDep, keybox: KeyBoxDep
) -> JSONResponse:
    assert gw.gateway is not None
    gw.gateway.last_seen_at = utcnow()
    results = ingest.ingest(
        session,
        keybox,
        body.frames,
        gw.gateway.id,
        scope_worker_id=phones.scope_of(gw.gateway),
    )
    # Returned as a ready response: re-validating a 1,000-result batch against the response
    # model would cost more than verifying the frames did. The model still documents it.
    return JSONResponse({"results": results})
