"""Workers' risk assessments: hazards, controls, level, owner and review date, kept as
append-only versions so the history says who changed what, when.

A review is due when the newest version's review date is near or past, when a worker has
never been assessed, or when an incident was recorded for them after their newest assessment
(the follow-up the console prompts for)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.errors import Conflict
from monitor.models import Incident, RiskAssessment, User, Worker, utcnow
from monitor.services import audit
from monitor.services.scope import Scope

LEVELS = ("low", "medium", "high")
FIELDS = ("hazards", "controls", "level", "owner", "review_due")
DUE_SOON = dt.timedelta(days=30)
MAX_REVIEW_AHEAD = dt.timedelta(days=3 * 366)  # a review date years away is a typing slip


def current(session: Session, worker_id: int) -> RiskAssessment | None:
    return session.scalar(
        select(RiskAssessment)
        .where(RiskAssessment.worker_id == worker_id)
        .order_by(RiskAssessment.version.desc())
        .limit(1)
    )


def newest(session: Session, worker_ids: list[int]) -> dict[int, Any]:
    """Each worker's current level and review date, in one query (rows, not ORM objects: the
    workers page asks for a thousand)."""
    top = (
        select(RiskAssessment.worker_id, func.max(RiskAssessment.version).label("v"))
        .where(RiskAssessment.worker_id.in_(worker_ids))
        .group_by(RiskAssessment.worker_id)
        .subquery()
    )
    rows = session.execute(
        select(RiskAssessment.worker_id, RiskAssessment.level, RiskAssessment.review_due).join(
            top, (top.c.worker_id == RiskAssessment.worker_id) & (top.c.v == RiskAssessment.version)
        )
    )
    return {r.worker_id: r for r in rows}


def save(
    session: Session,
    user: User,
    worker: Worker,
    *,
    hazards: str,
    controls: str,
    level: str,
    owner: str,
    review_due: dt.date,
    reason: str | None = None,
    today: dt.date | None = None,
) -> RiskAssessment:
    today = today or utcnow().date()
    if level not in LEVELS:
        raise Conflict(f"level must be one of {', '.join(LEVELS)}")
    if not hazards.strip() or not controls.strip() or not owner.strip():
        raise Conflict("hazards, controls and owner must not be blank")
    if review_due < today:
        raise Conflict(f"the review date {review_due} is in the past: choose today or later")
    if review_due > today + MAX_REVIEW_AHEAD:
        raise Conflict("the review date is more than three years away")
    before = current(session, worker.id)
    row = RiskAssessment(
        worker_id=worker.id,
        version=(before.version + 1) if before else 1,
        hazards=hazards.strip(),
        controls=controls.strip(),
        level=level,
        owner=owner.strip(),
        review_due=review_due,
        reason=(reason or "").strip() or None,
        changed_at=utcnow(),
        changed_by=user.id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        f"user:{user.username}",
        "risk_assessed",
        subject=f"worker:{worker.id}",
        details={"version": row.version, "level": level, "changed": _changed(before, row)},
    )
    return row


def _changed(before: RiskAssessment | None, after: RiskAssessment) -> list[str]:
    if before is None:
        return list(FIELDS)
    return [f for f in FIELDS if getattr(before, f) != getattr(after, f)]


def out(session: Session, row: RiskAssessment) -> dict[str, Any]:
    by = session.get(User, row.changed_by) if row.changed_by else None
    return {
        "version": row.version,
        "hazards": row.hazards,
        "controls": row.controls,
        "level": row.level,
        "owner": row.owner,
        "review_due": row.review_due.isoformat(),
        "reason": row.reason,
        "changed_at": row.changed_at.isoformat(),
        "changed_by": by.name if by else None,
    }


def history(session: Session, worker_id: int) -> list[dict[str, Any]]:
    """Newest first; each version names the fields it changed from the one before, with the old
    value, so a reader sees what changed without comparing by eye."""
    rows = list(
        session.scalars(
            select(RiskAssessment)
            .where(RiskAssessment.worker_id == worker_id)
            .order_by(RiskAssessment.version)
        )
    )
    result = []
    for i, row in enumerate(rows):
        before = rows[i - 1] if i else None
        entry = out(session, row)
        entry["changes"] = [
            {
                "field": f,
                "from": None if before is None else _text(getattr(before, f)),
                "to": _text(getattr(row, f)),
            }
            for f in _changed(before, row)
        ]
        result.append(entry)
    return result[::-1]


def _text(v: Any) -> str:
    return v.isoformat() if isinstance(v, dt.date) else str(v)


def incidents_since(session: Session, worker_id: int) -> list[int]:
    """Incidents recorded for the worker after their newest assessment (all, if none)."""
    latest = current(session, worker_id)
    q = select(Incident.id).where(Incident.worker_id == worker_id)
    if latest is not None:
        q = q.where(Incident.created_at > latest.changed_at)
    return list(session.scalars(q.order_by(Incident.id)))


def reviews_due(
    session: Session, view: Scope, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """Every worker in scope whose assessment needs attention, most urgent first: overdue,
    never assessed, follow-up after an incident, then due within 30 days."""
    today = today or utcnow().date()
    newest = (
        select(RiskAssessment.worker_id, func.max(RiskAssessment.version).label("v"))
        .group_by(RiskAssessment.worker_id)
        .subquery()
    )
    q = (
        select(Worker, RiskAssessment)
        .outerjoin(newest, newest.c.worker_id == Worker.id)
        .outerjoin(
            RiskAssessment,
            (RiskAssessment.worker_id == Worker.id) & (RiskAssessment.version == newest.c.v),
        )
        .order_by(Worker.name)
    )
    q = view.filter(q, view.worker_clause())
    # Incidents newer than each worker's newest assessment, counted in one query.
    late = dict(
        session.execute(
            select(Incident.worker_id, func.count())
            .outerjoin(newest, newest.c.worker_id == Incident.worker_id)
            .outerjoin(
                RiskAssessment,
                (RiskAssessment.worker_id == Incident.worker_id)
                & (RiskAssessment.version == newest.c.v),
            )
            .where(
                Incident.worker_id.is_not(None),
                (RiskAssessment.id.is_(None)) | (Incident.created_at > RiskAssessment.changed_at),
            )
            .group_by(Incident.worker_id)
        ).all()
    )
    rows: list[tuple[int, str, str, dict[str, Any]]] = []
    for w, ra in session.execute(q).all():
        follow_ups = late.get(w.id, 0)
        if ra is None:
            why, rank = "never assessed", 1
        elif ra.review_due < today:
            why, rank = f"review overdue by {(today - ra.review_due).days} days", 0
        elif follow_ups:
            why, rank = "incident since the last assessment", 2
        elif ra.review_due <= today + DUE_SOON:
            why, rank = f"review due in {(ra.review_due - today).days} days", 3
        else:
            continue
        if follow_ups and rank != 2:
            why += f"; {follow_ups} incident(s) since"
        due = ra.review_due.isoformat() if ra else None
        entry = {
            "worker": {"id": w.id, "name": w.name, "team": w.team},
            "level": ra.level if ra else None,
            "owner": ra.owner if ra else None,
            "review_due": due,
            "why": why,
            "incidents_since": follow_ups,
        }
        rows.append((rank, due or "", w.name, entry))
    rows.sort(key=lambda r: r[:3])
    return [r[3] for r in rows]
