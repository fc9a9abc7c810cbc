"""Alarms: the queue, detail with timeline, acknowledge, resolve, incidents, live SSE stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from monitor.api.deps import (
    CurrentOperator,
    DatabaseDep,
    HubDep,
    KeyBoxDep,
    RowId,
    SessionDep,
    SettingsDep,
    operator_user,
)
from monitor.core import jsonsafe
from monitor.core.db import Database
from monitor.models import Alarm, Device, Worker
from monitor.services import alarms, auth, reports

router = APIRouter(prefix="/v1/alarms", tags=["alarms"])

SSE_PING_S = 15  # keeps proxies from closing an idle stream; lets the console see it is live


class ResolveIn(BaseModel):
    outcome: Literal[alarms.OUTCOMES] = Field(description="one of " + ", ".join(alarms.OUTCOMES))  # type: ignore[valid-type]
    notes: str | None = Field(default=None, max_length=4000)


class IncidentIn(BaseModel):
    type: Literal[reports.INCIDENT_TYPES]  # type: ignore[valid-type]
    summary: str | None = Field(default=None, max_length=4000)


def _timeline(session: Any, alarm_id: int) -> list[dict[str, Any]]:
    return [
        {
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "details": json.loads(e.details) if e.details else None,
        }
        for e in alarms.timeline(session, alarm_id)
    ]


def detail(session: Any, alarm: Alarm) -> dict[str, Any]:
    out = alarms.payload(session, alarm)
    worker = session.get(Worker, alarm.worker_id) if alarm.worker_id else None
    device = session.get(Device, alarm.device_id) if alarm.device_id else None
    out["worker_profile"] = (
        {
            "id": worker.id,
            "name": worker.name,
            "phone": worker.phone,
            "team": worker.team,
            "risk_notes": worker.risk_notes,
        }
        if worker
        else None
    )
    out["device"] = (
        {
            "id": device.id,
            "board": device.board,
            "battery_pct": device.battery_pct,
            "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
            "last_location": (
                {
                    "lat": device.last_lat,
                    "lon": device.last_lon,
                    "accuracy_m": device.last_accuracy_m,
                    "at": device.last_location_at.isoformat() if device.last_location_at else None,
                }
                if device.last_lat is not None
                else None
            ),
        }
        if device
        else None
    )
    out["timeline"] = _timeline(session, alarm.id)
    return out


@router.get("")
def list_alarms(
    _: CurrentOperator,
    session: SessionDep,
    status: Literal["active", "open", "acknowledged", "resolved", "all"] = "active",
    limit: int = Query(200, ge=1, le=1000),
) -> list[dict[str, Any]]:
    q = select(Alarm)
    if status == "active":
        q = q.where(Alarm.status != alarms.RESOLVED)
    elif status != "all":
        q = q.where(Alarm.status == status)
    q = q.order_by(Alarm.priority, Alarm.raised_at.desc()).limit(limit)
    return [alarms.payload(session, a) for a in session.scalars(q)]


def _still_allowed(db: Database, token_id: int) -> bool:
    with db.session() as s:
        return auth.credential_valid(s, token_id)


@router.get("/stream")
async def stream(
    request: Request, op: CurrentOperator, hub: HubDep, db: DatabaseDep, settings: SettingsDep
) -> EventSourceResponse:
    """Alarm changes as they happen. The caller's session or API token is checked again every
    VIGIL_STREAM_RECHECK_S seconds: once it is logged out, expired, revoked or its user is
    disabled, the stream sends `event: end` and closes (reconnecting then gets a 401). A logout
    or revocation on this instance ends it at once."""
    token_id = op.token_id
    q = hub.subscribe(token_id)
    recheck_s = settings.stream_recheck_s

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"event": "hello", "data": "{}"}
            now = time.monotonic()
            next_check, next_ping = now + recheck_s, now + SSE_PING_S
            while True:
                item: dict[str, Any] | None | bool = False  # False: nothing arrived
                try:
                    item = await asyncio.wait_for(
                        q.get(), max(0.0, min(next_check, next_ping) - time.monotonic())
                    )
                except TimeoutError:
                    pass
                now = time.monotonic()
                if item is None:
                    next_check = now  # dropped: either missed events or its credential ended
                if now >= next_check:
                    # Before anything else goes out: nothing reaches a logged-out console
                    # more than one interval after logout.
                    if token_id is None or not await run_in_threadpool(
                        _still_allowed, db, token_id
                    ):
                        yield {"event": "end", "data": json.dumps({"reason": "logged_out"})}
                        return
                    next_check = now + recheck_s
                if item is None:
                    return  # this stream missed events: the console reconnects and resyncs
                if item is not False:
                    yield {"event": "alarm", "data": jsonsafe.dumps(item)}
                elif now >= next_ping:
                    yield {"event": "ping", "data": "{}"}
                    next_ping = now + SSE_PING_S
        finally:
            hub.unsubscribe(q)

    return EventSourceResponse(events())


@router.get("/{alarm_id}")
def get_alarm(alarm_id: RowId, _: CurrentOperator, session: SessionDep) -> dict[str, Any]:
    return detail(session, alarms.get(session, alarm_id))


@router.post("/{alarm_id}/acknowledge")
def acknowledge(
    alarm_id: RowId, op: CurrentOperator, session: SessionDep, keybox: KeyBoxDep
) -> dict[str, Any]:
    a = alarms.acknowledge(session, keybox, alarm_id, operator_user(op))
    session.commit()
    return detail(session, a)


@router.post("/{alarm_id}/resolve")
def resolve(
    alarm_id: RowId, body: ResolveIn, op: CurrentOperator, session: SessionDep, keybox: KeyBoxDep
) -> dict[str, Any]:
    a = alarms.resolve(
        session, keybox, alarm_id, op.actor, body.outcome, body.notes, user=operator_user(op)
    )
    session.commit()
    return detail(session, a)


@router.post("/{alarm_id}/incident", status_code=201)
def file_incident(
    alarm_id: RowId, body: IncidentIn, op: CurrentOperator, session: SessionDep
) -> dict[str, Any]:
    inc = reports.file_incident(session, alarm_id, operator_user(op), body.type, body.summary)
    session.commit()
    return {"id": inc.id, "alarm_id": inc.alarm_id, "type": inc.type, "summary": inc.summary}
