"""The answer-time report against a direct computation from the rows (Hypothesis).

Random alarms (kind, when the monitor stored them, acknowledged or not, resolved by a person, by
the monitor or not at all, cancelled at the fob or not, of which team) are written to a real
seeded database (SQLite, then PostgreSQL); the service's figures for a random date range and
scope must equal a plain re-computation here with `statistics.median`. The strategy lives in
this file, not in host_tests/strategies.py: it builds database rows for this one report, not
protocol values.
Delays are whole milliseconds so that the 10 s and 40 s boundaries are hit exactly.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from host_tests.support.monitor import Env
from monitor.models import Alarm, Team, Worker
from monitor.services import alarm_kinds, reports
from monitor.services.date_range import DateRange
from monitor.services.scope import EVERYTHING, Scope

BASE = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
DAYS = [dt.date(2026, 11, 9) + dt.timedelta(days=i) for i in range(7)]
OUR_TEAM = "Housing visits"  # the seed's team (monitor/seed.py)


@dataclass(frozen=True)
class Spec:
    kind: str
    stored_ms: int  # after BASE
    ack_ms: int | None  # after stored
    resolve_ms: int | None  # after stored (and after the ack when there is one)
    resolved_by_person: bool
    cancelled: bool
    team: str | None  # the worker's team: ours, another, or no worker


# Around the limits, and anything up to two minutes.
delays = st.one_of(
    st.sampled_from([0, 9_999, 10_000, 10_001, 39_999, 40_000, 40_001]),
    st.integers(0, 120_000),
)


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    ack = draw(st.none() | delays)
    resolve = draw(st.none() | delays)
    if ack is not None and resolve is not None:
        resolve = max(resolve, ack)
    return Spec(
        kind=draw(st.sampled_from(sorted(alarm_kinds.PRIORITY))),
        stored_ms=draw(st.integers(-86_400_000, 4 * 86_400_000)),
        ack_ms=ack,
        resolve_ms=resolve,
        resolved_by_person=draw(st.booleans()),
        cancelled=draw(st.booleans()),
        team=draw(st.sampled_from([OUR_TEAM, "Planning enforcement", None])),
    )


@st.composite
def ranges(draw: st.DrawFn) -> DateRange:
    a, b = draw(st.none() | st.sampled_from(DAYS)), draw(st.none() | st.sampled_from(DAYS))
    if a is not None and b is not None and a > b:
        a, b = b, a
    return DateRange(a, b)


@pytest.fixture
def db(env: Env) -> Iterator[tuple[Any, dict[str | None, int | None], int]]:
    """A seeded database (SQLite and PostgreSQL: the date bounds are compared by each engine),
    a worker per team (None: no worker) and a user who resolves."""
    with env.app.state.db.session() as s:
        s.add(Team(name="Planning enforcement"))
        other = Worker(name="Pat Other", team="Planning enforcement")
        s.add(other)
        s.commit()
        workers = {
            OUR_TEAM: env.seeded.worker_id,
            "Planning enforcement": other.id,
            None: None,
        }
    yield env.app.state.db, workers, env.seeded.operator_id


def expected(rows: list[Spec], dates: DateRange, view: Scope) -> dict[str, dict[str, Any]]:
    """The report computed directly from the specs, without the service's code."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        stored = BASE + dt.timedelta(milliseconds=r.stored_ms)
        if dates.start and stored.date() < dates.start or dates.end and stored.date() > dates.end:
            continue
        if view.teams is not None and r.team not in view.teams:
            continue
        k = out.setdefault(r.kind, {"alarms": 0, "cancelled": 0, "times": [], "resolved": 0})
        if r.cancelled:
            k["cancelled"] += 1
            continue
        k["alarms"] += 1
        answer = r.ack_ms if r.ack_ms is not None else r.resolve_ms
        if answer is not None:
            k["times"].append(answer / 1000)
        if r.ack_ms is None and r.resolve_ms is not None:
            k["resolved"] += 1
    return out


def _insert(
    session: Any, rows: list[Spec], workers: dict[str | None, int | None], user: int
) -> None:
    for r in rows:
        stored = BASE + dt.timedelta(milliseconds=r.stored_ms)
        ack = stored + dt.timedelta(milliseconds=r.ack_ms) if r.ack_ms is not None else None
        res = stored + dt.timedelta(milliseconds=r.resolve_ms) if r.resolve_ms is not None else None
        session.add(
            Alarm(
                kind=r.kind,
                priority=alarm_kinds.PRIORITY[r.kind],
                status="resolved" if res else "acknowledged" if ack else "open",
                worker_id=workers[r.team],
                raised_at=stored - dt.timedelta(seconds=2),
                received_at=stored,
                stored_at=stored,
                acknowledged_at=ack,
                resolved_at=res,
                resolved_by=user if res is not None and r.resolved_by_person else None,
                cancelled_at=stored + dt.timedelta(seconds=1) if r.cancelled else None,
            )
        )
    session.flush()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(specs(), max_size=25),
    dates=ranges(),
    teams=st.sampled_from([None, frozenset({OUR_TEAM}), frozenset()]),
)
def test_answer_times_equal_a_direct_computation_from_the_rows(
    db: tuple[Any, dict[str | None, int | None], int],
    rows: list[Spec],
    dates: DateRange,
    teams: frozenset[str] | None,
) -> None:
    database, workers, user = db
    view = EVERYTHING if teams is None else Scope(teams)
    with database.session() as s:
        s.execute(delete(Alarm))
        _insert(s, rows, workers, user)
        got = {k["kind"]: k for k in reports.answer_times(s, view, dates)["by_kind"]}
        csv_rows = reports.alarm_rows(s, view, dates)
        s.rollback()
    want = expected(rows, dates, view)
    assert set(got) == set(want)
    assert len(csv_rows) == sum(w["alarms"] + w["cancelled"] for w in want.values())
    for kind, w in want.items():
        g, times, n = got[kind], w["times"], w["alarms"]
        assert (g["alarms"], g["cancelled_at_fob"]) == (n, w["cancelled"])
        assert (g["answered"], g["not_answered"]) == (len(times), n - len(times))
        assert g["resolved_without_acknowledgement"] == w["resolved"]
        if times:
            assert g["median_s"] == pytest.approx(statistics.median(times))
        else:
            assert g["median_s"] is None
        for limit in (10, 40):
            share = round(100 * sum(1 for t in times if t <= limit) / n, 1) if n else None
            assert g[f"within_{limit}_s_pct"] == share, (kind, limit, times, n)
    # The rows behind the figures agree with them.
    for r in csv_rows:
        assert r.counted == (not r.cancelled)


def test_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    # The old report took the upper-middle value: 6 s here.
    assert reports.median([8.0, 2.0, 6.0, 4.0]) == 5.0
    assert reports.median([3.0]) == 3.0
    assert reports.median([]) is None


def test_an_open_alarm_counts_against_the_shares_and_a_cancelled_one_is_left_out() -> None:
    at = BASE
    rows = [
        reports.AlarmRow(1, "sos", at, at + dt.timedelta(seconds=4), reports.ACKNOWLEDGED, False),
        reports.AlarmRow(2, "sos", at, None, reports.UNANSWERED, False),
        reports.AlarmRow(3, "sos", at, at + dt.timedelta(seconds=1), reports.ACKNOWLEDGED, True),
        reports.AlarmRow(4, "fall", at, at + dt.timedelta(seconds=30), reports.RESOLVED, False),
    ]
    by_kind = {k["kind"]: k for k in reports.summarise(rows)}
    sos = by_kind["sos"]
    assert (sos["alarms"], sos["answered"], sos["cancelled_at_fob"]) == (2, 1, 1)
    assert sos["within_10_s_pct"] == 50.0 and sos["median_s"] == 4.0
    fall = by_kind["fall"]
    assert fall["within_10_s_pct"] == 0.0 and fall["within_40_s_pct"] == 100.0
    assert fall["resolved_without_acknowledgement"] == 1
