"""GET /v1/downlink: gateways long-poll for signed frames to deliver to fobs."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from monitor.api.deps import CurrentGateway, DatabaseDep, HubDep
from monitor.core.db import Database
from monitor.models import Downlink

router = APIRouter(prefix="/v1", tags=["ingest"])

MAX_WAIT_S = 25  # below common proxy idle timeouts (30 s+), so the poll is not cut mid-wait
PAGE = 500
# Re-check the table at least this often while waiting: a downlink queued by another
# instance (shared PostgreSQL) wakes no local event.
RECHECK_S = 1.0


class DownlinkItem(BaseModel):
    id: int
    device_id: int
    frame: str


class DownlinkOut(BaseModel):
    items: list[DownlinkItem]
    cursor: int


def _fetch(db: Database, after: int) -> tuple[list[dict[str, Any]], int]:
    with db.session() as s:
        rows = s.scalars(
            select(Downlink).where(Downlink.id > after).order_by(Downlink.id).limit(PAGE)
        ).all()
        items: list[dict[str, Any]] = [
            {"id": r.id, "device_id": r.device_id, "frame": r.frame.hex()} for r in rows
        ]
        cursor = rows[-1].id if rows else after
    return items, cursor


@router.get("/downlink", response_model=DownlinkOut)
async def get_downlink(
    gw: CurrentGateway,
    db: DatabaseDep,
    hub: HubDep,
    after: int = Query(0, ge=0, le=2**63 - 1),
    wait: float = Query(0, ge=0, description=f"seconds to hold the poll; capped at {MAX_WAIT_S}"),
) -> dict[str, Any]:
    # Capped, not refused: a gateway asking for longer still gets its frames.
    deadline = time.monotonic() + min(wait, MAX_WAIT_S)
    while True:
        items, cursor = await run_in_threadpool(_fetch, db, after)
        left = deadline - time.monotonic()
        if items or left <= 0:
            return {"items": items, "cursor": cursor}
        await hub.wait_downlinks(min(left, RECHECK_S))
