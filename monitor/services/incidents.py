"""Incidents: recorded with or without an alarm, listed with filters, exported as CSV.

Most incidents a council's security manager logs are online or phone abuse that raised no alarm,
so an incident stands on its own; one filed from an alarm points at it (at most one per alarm).
The worker's team is copied onto the incident when it is recorded: reports by team keep their
history when the worker moves, and a supervisor's scope (services/scope.py) is decided by it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from monitor.models import Alarm, AuditEntry, Incident, User, Worker, utcnow
from monitor.services import alarms, audit
from monitor.services.date_range import DateRange
from monitor.services.scope import Scope

# What a new incident may be, in the words the form shows.
LABELS = {
    "online_abuse": "online abuse",
    "phone_abuse": "phone abuse",
    "in_person": "in person",
    "at_surgery_or_office": "at a surgery or office",
    "at_home": "at home",
    "verbal_abuse": "verbal abuse",
    "physical_assault": "physical assault",
    "fall": "fall",
    "medical": "medical",
    "false_alarm": "false alarm",
    "other": "other",
}
TYPES = tuple(LABELS)
# Types older rows may hold but new incidents are not given: still shown, filtered and reported.
LEGACY_LABELS = {"online_phone_abuse": "online or phone abuse (recorded before the split)"}
KNOWN_TYPES = TYPES + tuple(LEGACY_LABELS)

# A clock a few minutes fast (the browser's or the API client's) is not "in the future".
CLOCK_SKEW = dt.timedelta(minutes=5)
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # before Vigil or any fob: a typing mistake


def label(type_: str) -> str:
    return LABELS.get(type_) or LEGACY_LABELS.get(type_) or type_.replace("_", " ")


@dataclass
class Details:
    """What a person records about an incident; every text is optional but the type."""

    type: str
    occurred_at: dt.datetime | None = None  # None: when the alarm was raised (alarm_id needed)
    alarm_id: int | None = None
    worker_id: int | None = None
    location: str | None = None
    reported_by: str | None = None
    people_involved: str | None = None
    police_reference: str | None = None
    actions_taken: str | None = None
    lessons_learnt: str | None = None
    summary: str | None = None


@dataclass
class Filters:
    type: str | None = None
    team: str | None = None
    worker_id: int | None = None
    dates: DateRange = field(default_factory=DateRange)


def _blank_is_none(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text or None


def _when(d: Details, alarm: Alarm | None, now: dt.datetime) -> dt.datetime:
    if d.occurred_at is None:
        if alarm is None:
            raise InvalidInput("occurred_at: say when it happened", field="occurred_at")
        return alarm.raised_at
    if d.occurred_at.tzinfo is None:
        raise InvalidInput(
            "occurred_at: give a time zone offset, e.g. 2026-11-23T14:02:00+00:00",
            field="occurred_at",
        )
    when = d.occurred_at.astimezone(dt.UTC)
    if when > now + CLOCK_SKEW:
        raise InvalidInput(
            f"occurred_at: {when.isoformat()} is in the future (now {now.isoformat()})",
            field="occurred_at",
        )
    if when < EARLIEST:
        raise InvalidInput(f"occurred_at: {when.isoformat()} is before 2000", field="occurred_at")
    return when


def _alarm_for(session: Session, view: Scope, alarm_id: int) -> Alarm:
    alarm = view.check_alarm(session, alarms.get(session, alarm_id))
    if alarm.status != alarms.RESOLVED:
        raise InvalidTransition("resolve the alarm before filing it as an incident")
    if session.scalar(select(Incident.id).where(Incident.alarm_id == alarm_id)) is not None:
        raise Conflict(f"alarm {alarm_id} is already filed as an incident")
    return alarm


def _worker_for(
    session: Session, view: Scope, worker_id: int | None, alarm: Alarm | None
) -> Worker | None:
    if alarm is not None and alarm.worker_id is not None:
        if worker_id is not None and worker_id != alarm.worker_id:
            raise InvalidInput(
                f"worker_id: alarm {alarm.id} was raised by worker {alarm.worker_id}, "
                f"not {worker_id}; leave worker_id out to use the alarm's",
                field="worker_id",
            )
        worker_id = alarm.worker_id
    if worker_id is None:
        if not view.everything:
            raise InvalidInput(
                "worker_id: a supervisor's incident must name a worker of one of your teams",
                field="worker_id",
            )
        return None
    worker = session.get(Worker, worker_id)
    if worker is None:
        raise NotFound(f"worker {worker_id} does not exist", worker_id=worker_id)
    return view.check_worker(worker)


def record(
    session: Session, view: Scope, user: User, d: Details, now: dt.datetime | None = None
) -> Incident:
    now = now or utcnow()
    if d.type not in TYPES:
        raise InvalidInput(f"type must be one of {', '.join(TYPES)}", field="type")
    alarm = _alarm_for(session, view, d.alarm_id) if d.alarm_id is not None else None
    worker = _worker_for(session, view, d.worker_id, alarm)
    inc = Incident(
        alarm_id=alarm.id if alarm else None,
        type=d.type,
        occurred_at=_when(d, alarm, now),
        worker_id=worker.id if worker else None,
        team=worker.team if worker else None,
        location=_blank_is_none(d.location),
        reported_by=_blank_is_none(d.reported_by),
        people_involved=_blank_is_none(d.people_involved),
        police_reference=_blank_is_none(d.police_reference),
        actions_taken=_blank_is_none(d.actions_taken),
        lessons_learnt=_blank_is_none(d.lessons_learnt),
        summary=_blank_is_none(d.summary),
        created_by=user.id,
        created_at=now,
    )
    session.add(inc)
    session.flush()
    audit.record(
        session,
        f"user:{user.username}",
        "incident_filed",
        alarm_id=inc.alarm_id,
        subject=f"incident:{inc.id}",
        details={"type": inc.type, "worker_id": inc.worker_id, "team": inc.team},
        at=now,
    )
    return inc


# What can be added to a record after it was filed: the follow-up (a police reference arrives,
# actions are taken, lessons are learnt). Type, time, worker and alarm stay as recorded, so a
# report run last month still counts the same incidents.
FOLLOW_UP = (
    "location",
    "reported_by",
    "people_involved",
    "police_reference",
    "actions_taken",
    "lessons_learnt",
    "summary",
)


def update(
    session: Session,
    view: Scope,
    user: User,
    incident_id: int,
    changes: dict[str, str | None],
    now: dt.datetime | None = None,
) -> Incident:
    inc = get(session, view, incident_id)
    changed = []
    for name, value in changes.items():
        if name not in FOLLOW_UP:
            raise InvalidInput(f"{name} cannot be changed after recording", field=name)
        value = _blank_is_none(value)
        if getattr(inc, name) != value:
            setattr(inc, name, value)
            changed.append(name)
    if changed:
        audit.record(
            session,
            f"user:{user.username}",
            "incident_updated",
            alarm_id=inc.alarm_id,
            subject=f"incident:{inc.id}",
            details={"changed": changed},
            at=now or utcnow(),
        )
    return inc


def updates(session: Session, incident_id: int) -> list[dict[str, Any]]:
    """Who added what to the record, and when: oldest first."""
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.subject == f"incident:{incident_id}")
        .where(AuditEntry.action == "incident_updated")
        .order_by(AuditEntry.id)
    )
    out = []
    for e in rows:
        details = json.loads(e.details) if e.details else {}
        fields = details.get("changed", []) if isinstance(details, dict) else []
        out.append({"at": e.at, "actor": e.actor, "fields": [f.replace("_", " ") for f in fields]})
    return out


def get(session: Session, view: Scope, incident_id: int) -> Incident:
    inc = session.get(Incident, incident_id)
    if inc is None:
        raise NotFound(f"incident {incident_id} does not exist", incident_id=incident_id)
    return view.check_incident(inc)


def _where(view: Scope, f: Filters, stmt: Any) -> Any:
    stmt = view.filter(stmt, view.incident_clause())
    if f.type is not None:
        stmt = stmt.where(Incident.type == f.type)
    if f.team is not None:
        stmt = stmt.where(Incident.team == f.team)
    if f.worker_id is not None:
        stmt = stmt.where(Incident.worker_id == f.worker_id)
    if f.dates.lower is not None:
        stmt = stmt.where(Incident.occurred_at >= f.dates.lower)
    if f.dates.upper is not None:
        stmt = stmt.where(Incident.occurred_at < f.dates.upper)
    return stmt


def query(session: Session, view: Scope, f: Filters, limit: int | None = None) -> list[Incident]:
    """Newest first; `limit` keeps a page short (the CSV and the reports take every row)."""
    stmt = _where(view, f, select(Incident))
    stmt = stmt.order_by(Incident.occurred_at.desc(), Incident.id.desc())
    return list(session.scalars(stmt if limit is None else stmt.limit(limit)))


def count(session: Session, view: Scope, f: Filters) -> int:
    return session.scalar(_where(view, f, select(func.count(Incident.id)))) or 0


def out(session: Session, inc: Incident) -> dict[str, Any]:
    """schemas.IncidentDetail."""
    worker = session.get(Worker, inc.worker_id) if inc.worker_id else None
    author = session.get(User, inc.created_by) if inc.created_by else None
    alarm = session.get(Alarm, inc.alarm_id) if inc.alarm_id else None
    return {
        "id": inc.id,
        "alarm_id": inc.alarm_id,
        "alarm_kind": alarm.kind if alarm else None,
        "type": inc.type,
        "type_label": label(inc.type),
        "summary": inc.summary,
        "occurred_at": inc.occurred_at.isoformat(),
        "location": inc.location,
        "reported_by": inc.reported_by,
        "worker": {"id": worker.id, "name": worker.name} if worker else None,
        "team": inc.team,
        "people_involved": inc.people_involved,
        "police_reference": inc.police_reference,
        "actions_taken": inc.actions_taken,
        "lessons_learnt": inc.lessons_learnt,
        "created_at": inc.created_at.isoformat(),
        "created_by": author.username if author else None,
    }


CSV_COLUMNS = (
    "id",
    "occurred_at",
    "type",
    "team",
    "worker",
    "location",
    "reported_by",
    "people_involved",
    "police_reference",
    "actions_taken",
    "lessons_learnt",
    "summary",
    "alarm_id",
    "recorded_at",
    "recorded_by",
)


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: text it would read as a formula (= + - @, and the
    tab and carriage return some spreadsheets skip before one) gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([safe_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def csv_text(session: Session, rows: list[Incident]) -> str:
    flat = []
    for inc in rows:
        o = out(session, inc)
        flat.append(
            {
                **o,
                "worker": o["worker"]["name"] if o["worker"] else None,
                "recorded_at": o["created_at"],
                "recorded_by": o["created_by"],
            }
        )
    return write_csv(CSV_COLUMNS, flat)
