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
    ScopeDep,
    SessionDep,
    SettingsDep,
    operator_user,
)
from monitor.core import jsonsafe
from monitor.core.db import Database
from monitor.models import Alarm, User
from monitor.schemas import AlarmDetail, AlarmOut, IncidentOut
from monitor.serialise import alarm_detail
from monitor.services import alarms, auth, incidents, scope

router = APIRouter(prefix="/v1/alarms", tags=["alarms"])

SSE_PING_S = 15  # keeps proxies from closing an idle stream; lets the console see it is live


class ResolveIn(BaseModel):
    outcome: Literal[alarms.OUTCOMES] = Field(description="one of " + ", ".join(alarms.OUTCOMES))  # type: ignore[valid-type]
    notes: str | None = Field(default=None, max_length=4000)


class IncidentIn(BaseModel):
    type: Literal[incidents.TYPES]  # type: ignore[valid-type]
    summary: str | None = Field(default=None, max_length=4000)


@router.get("", response_model=list[AlarmOut])
def list_alarms(
    _: CurrentOperator,
    view: ScopeDep,
    session: SessionDep,
    status: Literal["active", "open", "acknowledged", "resolved", "all"] = "active",
    limit: int = Query(200, ge=1, le=1000),
) -> list[dict[str, Any]]:
    q = select(Alarm)
    if status == "active":
        q = q.where(Alarm.status != alarms.RESOLVED)
    elif status != "all":
        q = q.where(Alarm.status == status)
    q = view.filter(q, view.alarm_clause())
    q = q.order_by(Alarm.priority, Alarm.raised_at.desc()).limit(limit)
    return [alarms.payload(session, a) for a in session.scalars(q)]


def _still_allowed(db: Database, token_id: int, user_id: int) -> scope.Scope | None:
    """The caller's scope now, or None once their credential has ended."""
    with db.session() as s:
        if not auth.credential_valid(s, token_id):
            return None
        return scope.for_user(s, s.get(User, user_id))


@router.get("/stream")
async def stream(
    request: Request,
    op: CurrentOperator,
    view: ScopeDep,
    hub: HubDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> EventSourceResponse:
    """Alarm changes as they happen. The caller's session or API token is checked again every
    VIGIL_STREAM_RECHECK_S seconds: once it is logged out, expired, revoked or its user is
    disabled, the stream sends `event: end` and closes (reconnecting then gets a 401). A logout
    or revocation on this instance ends it at once. A supervisor receives only their teams'
    alarms; a change of their teams takes effect at the next check."""
    token_id = op.token_id
    user_id = operator_user(op).id
    q = hub.subscribe(token_id, user_id, settings.max_streams_per_user)
    recheck_s = settings.stream_recheck_s

    async def events() -> AsyncIterator[dict[str, str]]:
        seen = view
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
                    now_seen = (
                        None
                        if token_id is None
                        else await run_in_threadpool(_still_allowed, db, token_id, user_id)
                    )
                    if now_seen is None:
                        yield {"event": "end", "data": json.dumps({"reason": "logged_out"})}
                        return
                    seen = now_seen
                    next_check = now + recheck_s
                if item is None:
                    return  # this stream missed events: the console reconnects and resyncs
                if isinstance(item, dict):
                    if seen.sees_payload(item):
                        yield {"event": "alarm", "data": jsonsafe.dumps(item)}
                elif now >= next_ping:
                    yield {"event": "ping", "data": "{}"}
                    next_ping = now + SSE_PING_S
        finally:
            hub.unsubscribe(q)

    return EventSourceResponse(events())


@router.get("/{alarm_id}", response_model=AlarmDetail)
def get_alarm(
    alarm_id: RowId, _: CurrentOperator, view: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    return alarm_detail(session, view.check_alarm(session, alarms.get(session, alarm_id)))


@router.post("/{alarm_id}/acknowledge", response_model=AlarmDetail)
def acknowledge(
    alarm_id: RowId, op: CurrentOperator, view: ScopeDep, session: SessionDep, keybox: KeyBoxDep
) -> dict[str, Any]:
    view.check_alarm(session, alarms.get(session, alarm_id))
    a = alarms.acknowledge(session, keybox, alarm_id, operator_user(op))
    session.commit()
    return alarm_detail(session, a)


@router.post("/{alarm_id}/resolve", response_model=AlarmDetail)
def resolve(
    alarm_id: RowId,
    body: ResolveIn,
    op: CurrentOperator,
    view: ScopeDep,
    session: SessionDep,
    keybox: KeyBoxDep,
) -> dict[str, Any]:
    view.check_alarm(session, alarms.get(session, alarm_id))
    a = alarms.resolve(
        session, keybox, alarm_id, op.actor, body.outcome, body.notes, user=operator_user(op)
    )
    session.commit()
    return alarm_detail(session, a)


@router.post("/{alarm_id}/incident", response_model=IncidentOut, status_code=201)
def file_incident(
    alarm_id: RowId, body: IncidentIn, op: CurrentOperator, view: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    """The short form (type and summary); POST /v1/incidents with alarm_id records the rest."""
    details = incidents.Details(type=body.type, alarm_id=alarm_id, summary=body.summary)
    inc = incidents.record(session, view, operator_user(op), details)
    session.commit()
    return {"id": inc.id, "alarm_id": inc.alarm_id, "type": inc.type, "summary": inc.summary}
