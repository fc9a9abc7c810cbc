"""Reports over a date range: incidents by month, team and type; alarm answer times per kind.

Answer time, as the console and the CSV define it:
- measured from when the monitor stored the alarm (`stored_at`, its own clock: what the
  operators control, and nothing a gateway asserts can stretch it) to when it was answered;
- answered = acknowledged by an operator; an alarm resolved without an acknowledgement counts as
  answered when it was resolved (a device-offline alarm that cleared itself when the fob came
  back is answered by the monitor at that moment: the CSV says which);
- an alarm still open and unacknowledged is counted, and is answered within no limit;
- alarms the worker cancelled at the fob are left out of answer times (counted apart);
- the median is over answered alarms: the middle value, or the mean of the two middle values;
- "within 10 s" and "within 40 s" (the BS 8484 figures) are shares of every counted alarm of
  that kind, answered or not, whose answer time is at most 10 s (40 s).
Alarms fall in a date range by the UTC day the monitor stored them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.models import Alarm, utcnow
from monitor.services import incidents
from monitor.services.date_range import DateRange
from monitor.services.scope import Scope

LIMITS_S = (10, 40)  # the answer-time limits BS 8484's targets are set at
NO_TEAM = "unassigned"

# How an alarm was answered (the CSV's `answered_by`).
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved_without_acknowledgement"
CLEARED = "cleared_by_the_monitor"  # resolved by the system, e.g. the fob came back online
UNANSWERED = "not_answered"


def incident_report(session: Session, view: Scope, dates: DateRange) -> dict[str, Any]:
    """schemas.IncidentReport: counts by type, team and month (YYYY-MM, UTC) of the incidents
    that happened in the range."""
    rows = incidents.query(session, view, incidents.Filters(dates=dates))
    by_type: Counter[str] = Counter(i.type for i in rows)
    by_team: Counter[str] = Counter(i.team or NO_TEAM for i in rows)
    by_month: Counter[str] = Counter(i.occurred_at.strftime("%Y-%m") for i in rows)
    return {
        "from": dates.start.isoformat() if dates.start else None,
        "to": dates.end.isoformat() if dates.end else None,
        "total": len(rows),
        "by_type": dict(sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
        "by_team": dict(sorted(by_team.items(), key=lambda kv: (-kv[1], kv[0]))),
        "by_month": dict(sorted(by_month.items())),
    }


@dataclass(frozen=True)
class AlarmRow:
    """One alarm as the answer-time report sees it."""

    id: int
    kind: str
    stored_at: dt.datetime
    answered_at: dt.datetime | None
    answered_by: str
    cancelled: bool

    @property
    def seconds(self) -> float | None:
        if self.answered_at is None:
            return None
        return max(0.0, (self.answered_at - self.stored_at).total_seconds())

    @property
    def counted(self) -> bool:
        return not self.cancelled

    def within(self, limit_s: float) -> bool:
        s = self.seconds
        return s is not None and s <= limit_s


def answer_of(
    acknowledged_at: dt.datetime | None, resolved_at: dt.datetime | None, resolved_by: int | None
) -> tuple[dt.datetime | None, str]:
    if acknowledged_at is not None:
        return acknowledged_at, ACKNOWLEDGED
    if resolved_at is not None:
        return resolved_at, RESOLVED if resolved_by is not None else CLEARED
    return None, UNANSWERED


def alarm_rows(session: Session, view: Scope, dates: DateRange) -> list[AlarmRow]:
    # Columns, not Alarm objects: a year of a large organisation's alarms is tens of thousands
    # of rows, and building ORM objects for them was most of the report's time (bench/reports.py).
    stmt = view.filter(
        select(
            Alarm.id,
            Alarm.kind,
            Alarm.stored_at,
            Alarm.acknowledged_at,
            Alarm.resolved_at,
            Alarm.resolved_by,
            Alarm.cancelled_at,
        ),
        view.alarm_clause(),
    )
    if dates.lower is not None:
        stmt = stmt.where(Alarm.stored_at >= dates.lower)
    if dates.upper is not None:
        stmt = stmt.where(Alarm.stored_at < dates.upper)
    out = []
    for id_, kind, stored, acked, resolved, by, cancelled in session.execute(
        stmt.order_by(Alarm.stored_at, Alarm.id)
    ):
        answered_at, how = answer_of(acked, resolved, by)
        out.append(AlarmRow(id_, kind, stored, answered_at, how, cancelled is not None))
    return out


def median(values: list[float]) -> float | None:
    """The true median: the mean of the two middle values when there is an even number."""
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def summarise(rows: list[AlarmRow]) -> list[dict[str, Any]]:
    """schemas.AnswerTimes.by_kind: one entry per alarm kind, most alarms first."""
    kinds: dict[str, list[AlarmRow]] = {}
    for r in rows:
        kinds.setdefault(r.kind, []).append(r)
    out = []
    by_size = sorted(kinds.items(), key=lambda kv: (-sum(r.counted for r in kv[1]), kv[0]))
    for kind, group in by_size:
        counted = [r for r in group if r.counted]
        times = [s for r in counted if (s := r.seconds) is not None]
        out.append(
            {
                "kind": kind,
                "alarms": len(counted),
                "answered": len(times),
                "not_answered": len(counted) - len(times),
                "resolved_without_acknowledgement": sum(
                    1 for r in counted if r.answered_by in (RESOLVED, CLEARED)
                ),
                "cancelled_at_fob": len(group) - len(counted),
                "median_s": median(times),
                "within_10_s_pct": _pct(sum(1 for r in counted if r.within(10)), len(counted)),
                "within_40_s_pct": _pct(sum(1 for r in counted if r.within(40)), len(counted)),
            }
        )
    return out


def answer_times(
    session: Session, view: Scope, dates: DateRange, now: dt.datetime | None = None
) -> dict[str, Any]:
    """schemas.AnswerTimes."""
    rows = alarm_rows(session, view, dates)
    return {
        "from": dates.start.isoformat() if dates.start else None,
        "to": dates.end.isoformat() if dates.end else None,
        "as_of": (now or utcnow()).isoformat(),
        "by_kind": summarise(rows),
    }


ALARM_CSV_COLUMNS = (
    "alarm_id",
    "kind",
    "stored_at",
    "answered_at",
    "answered_by",
    "answer_s",
    "cancelled_at_fob",
    "counted",
    "within_10_s",
    "within_40_s",
)


def alarms_csv(rows: list[AlarmRow]) -> str:
    def yes(b: bool) -> str:
        return "yes" if b else "no"

    return incidents.write_csv(
        ALARM_CSV_COLUMNS,
        [
            {
                "alarm_id": r.id,
                "kind": r.kind,
                "stored_at": r.stored_at.isoformat(),
                "answered_at": r.answered_at.isoformat() if r.answered_at else None,
                "answered_by": r.answered_by,
                "answer_s": f"{r.seconds:.3f}" if r.seconds is not None else None,
                "cancelled_at_fob": yes(r.cancelled),
                "counted": yes(r.counted),
                "within_10_s": yes(r.counted and r.within(10)),
                "within_40_s": yes(r.counted and r.within(40)),
            }
            for r in rows
        ],
    )
