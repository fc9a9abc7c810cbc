"""Incidents and trends: counts by type, team and month."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import Conflict, InvalidTransition
from monitor.models import Alarm, Incident, User, Worker
from monitor.services import alarms, audit

INCIDENT_TYPES = (
    "verbal_abuse",
    "online_phone_abuse",
    "physical_assault",
    "fall",
    "medical",
    "false_alarm",
    "other",
)


def file_incident(
    session: Session, alarm_id: int, user: User, type_: str, summary: str | None
) -> Incident:
    alarm = alarms.get(session, alarm_id)
    if alarm.status != alarms.RESOLVED:
        raise InvalidTransition("resolve the alarm before filing it as an incident")
    if type_ not in INCIDENT_TYPES:
        raise Conflict(f"type must be one of {', '.join(INCIDENT_TYPES)}")
    if session.scalar(select(Incident).where(Incident.alarm_id == alarm_id)) is not None:
        raise Conflict(f"alarm {alarm_id} is already filed as an incident")
    worker = session.get(Worker, alarm.worker_id) if alarm.worker_id else None
    inc = Incident(
        alarm_id=alarm_id,
        type=type_,
        summary=summary,
        created_by=user.id,
        occurred_at=alarm.raised_at,
        worker_id=alarm.worker_id,
        team=worker.team if worker else None,
    )
    session.add(inc)
    session.flush()
    audit.record(
        session,
        f"user:{user.username}",
        "incident_filed",
        alarm_id=alarm_id,
        details={"type": type_},
    )
    return inc


def incident_report(session: Session) -> dict[str, Any]:
    rows = session.execute(
        select(Incident.type, Alarm.raised_at, Worker.team)
        .join(Alarm, Alarm.id == Incident.alarm_id)
        .outerjoin(Worker, Worker.id == Alarm.worker_id)
    ).all()
    by_type: Counter[str] = Counter()
    by_team: Counter[str] = Counter()
    by_month: Counter[str] = Counter()
    for type_, raised_at, team in rows:
        by_type[type_] += 1
        by_team[team or "unassigned"] += 1
        by_month[raised_at.strftime("%Y-%m")] += 1
    ack_times = [
        t
        for t in session.scalars(
            select(Alarm.time_to_ack_s).where(Alarm.time_to_ack_s.is_not(None))
        )
        if t is not None
    ]
    ack_times.sort()
    return {
        "total": len(rows),
        "by_type": dict(by_type.most_common()),
        "by_team": dict(by_team.most_common()),
        "by_month": dict(sorted(by_month.items())),
        "alarms_acknowledged": len(ack_times),
        "median_time_to_ack_s": ack_times[len(ack_times) // 2] if ack_times else None,
        "within_10_s_pct": (
            round(100 * sum(1 for t in ack_times if t <= 10) / len(ack_times), 1)
            if ack_times
            else None
        ),
    }
