"""GET /v1/downlink: gateways long-poll for signed frames to deliver to fobs.

A gateway gets only the downlinks of the fobs it serves: those it was the last to hear
(Device.last_gateway_id, judged at each poll), and none older than downlinks.MAX_AGE. The cursor
is the highest downlink id the poll looked at, served or not, so a gateway serving few fobs does
not rescan everyone else's; a fob that moves to another gateway has its pending downlinks moved
to the end of the queue by ingest (services/downlinks.follow), above any cursor.

The gateway's credential is checked at connect, again at every re-check of the wait, and last
after reading the items in the same transaction: a gateway revoked while its poll waits gets 401
and nothing queued after the revocation.

A phone's token (services/phones.py) gets, on top of that, only the downlinks of devices
allocated to its worker: a fob re-allocated since the phone last heard it is no longer served.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from monitor.api.deps import CurrentGateway, DatabaseDep, HubDep, SettingsDep
from monitor.core.db import Database
from monitor.errors import NotAuthenticated
from monitor.models import Device, Downlink, Gateway, utcnow
from monitor.schemas import DownlinkOut
from monitor.services import downlinks, phones

router = APIRouter(prefix="/v1", tags=["ingest"])

MAX_WAIT_S = 25  # below common proxy idle timeouts (30 s+), so the poll is not cut mid-wait
PAGE = 500
# New downlinks wake the poll at once (in-process, or by NOTIFY from any instance on a shared
# PostgreSQL); this re-check is the safety net for a wake-up missed while the LISTEN connection
# was reconnecting, and the longest a revoked gateway's poll stays open.
RECHECK_S = 5.0


def _fetch(
    db: Database, gateway_id: int, after: int, scope_worker_id: int | None = None
) -> tuple[list[dict[str, Any]], int] | None:
    """This gateway's downlinks after the cursor, and the new cursor; None if it is revoked."""
    with db.session() as s:
        top = s.scalar(select(func.max(Downlink.id))) or 0
        now = utcnow()
        stmt = (
            select(Downlink)
            .join(Device, Device.id == Downlink.device_id)
            .where(
                Downlink.id > after,
                Downlink.id <= top,
                Device.last_gateway_id == gateway_id,
                Downlink.created_at >= now - downlinks.MAX_AGE,
            )
            .order_by(Downlink.id)
            .limit(PAGE)
        )
        if scope_worker_id is not None:
            stmt = stmt.where(Device.worker_id == scope_worker_id)
        rows = s.scalars(stmt).all()
        items: list[dict[str, Any]] = [
            {
                "id": r.id,
                "device_id": r.device_id,
                "frame": r.frame.hex(),
                "age_s": max(0, int((now - r.created_at).total_seconds())),
            }
            for r in rows
        ]
        # A full page: carry on from its last row. Otherwise everything up to `top` was looked at.
        cursor = rows[-1].id if len(rows) == PAGE else max(after, top)
        # Read after the items (a later statement sees at least as much under READ COMMITTED):
        # a revocation committed before any of these items were queued is seen here.
        row = s.execute(select(Gateway.revoked_at).where(Gateway.id == gateway_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    return items, cursor


@router.get("/downlink", response_model=DownlinkOut)
async def get_downlink(
    gw: CurrentGateway,
    db: DatabaseDep,
    hub: HubDep,
    settings: SettingsDep,
    after: int = Query(0, ge=0, le=2**63 - 1),
    wait: float = Query(0, ge=0, description=f"seconds to hold the poll; capped at {MAX_WAIT_S}"),
) -> dict[str, Any]:
    assert gw.gateway is not None
    gateway_id = gw.gateway.id
    scope = phones.scope_of(gw.gateway)
    # Capped, not refused: a gateway asking for longer still gets its frames.
    deadline = time.monotonic() + min(wait, MAX_WAIT_S)
    with hub.long_poll(gateway_id, settings.max_long_polls_per_gateway) if wait else nullcontext():
        while True:
            got = await run_in_threadpool(_fetch, db, gateway_id, after, scope)
            if got is None:
                raise NotAuthenticated("this gateway token has been revoked")
            items, cursor = got
            left = deadline - time.monotonic()
            if items or left <= 0:
                return {"items": items, "cursor": cursor}
            await hub.wait_downlinks(min(left, RECHECK_S))
