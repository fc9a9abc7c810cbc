"""Report cost: how long the answer-time report, its alarms CSV and the incidents CSV take over a
year of data in a migrated SQLite file (the default engine), through the services the API calls.

A year for a large organisation: ALARMS alarms (one in five unanswered, resolved without an
acknowledgement or cancelled at the fob) and INCIDENTS incidents spread over 365 days, one team.
Each figure is the median of RUNS runs, for the whole year and for one month.

Last line JSON: {"alarms", "incidents", "answer_times_year_ms", "alarms_csv_year_ms",
"incidents_csv_year_ms", "answer_times_month_ms"}
Run: .venv/bin/python -m bench.reports [--alarms 20000 --incidents 2000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.core.db import Database
from monitor.models import Alarm, Incident, Worker
from monitor.services import alarm_kinds, incidents, reports
from monitor.services.date_range import DateRange
from monitor.services.scope import EVERYTHING

RUNS = 5
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def populate(db: Database, n_alarms: int, n_incidents: int) -> None:
    rnd = random.Random(16)
    kinds = sorted(alarm_kinds.PRIORITY)
    with db.session() as s:
        w = Worker(name="Bench Worker", team="Bench team")
        s.add(w)
        s.flush()
        for _ in range(n_alarms):
            stored = START + dt.timedelta(seconds=rnd.uniform(0, 365 * 86400))
            fate = rnd.random()
            ack = stored + dt.timedelta(seconds=rnd.expovariate(1 / 12)) if fate > 0.2 else None
            res = (ack or stored) + dt.timedelta(minutes=5) if fate > 0.1 else None
            s.add(
                Alarm(
                    kind=rnd.choice(kinds),
                    priority=1,
                    status="resolved" if res else "acknowledged" if ack else "open",
                    worker_id=w.id,
                    raised_at=stored,
                    received_at=stored,
                    stored_at=stored,
                    acknowledged_at=ack,
                    resolved_at=res,
                    cancelled_at=stored if fate < 0.05 else None,
                )
            )
        for _ in range(n_incidents):
            s.add(
                Incident(
                    type=rnd.choice(incidents.TYPES),
                    occurred_at=START + dt.timedelta(seconds=rnd.uniform(0, 365 * 86400)),
                    worker_id=w.id,
                    team=w.team,
                    location="=a cell to disarm",
                    summary="bench " * 20,
                )
            )
        s.commit()


def timed(db: Database, fn: Callable[[Any], object]) -> float:
    times = []
    for _ in range(RUNS):
        with db.session() as s:
            t0 = time.perf_counter()
            fn(s)
            times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alarms", type=int, default=20000)
    ap.add_argument("--incidents", type=int, default=2000)
    args = ap.parse_args()
    year, month = (
        DateRange(dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
        DateRange(dt.date(2026, 6, 1), dt.date(2026, 6, 30)),
    )
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'vigil.db'}")
        db.migrate()
        populate(db, args.alarms, args.incidents)
        every = incidents.Filters(dates=year)
        out = {
            "alarms": args.alarms,
            "incidents": args.incidents,
            "answer_times_year_ms": timed(db, lambda s: reports.answer_times(s, EVERYTHING, year)),
            "alarms_csv_year_ms": timed(
                db, lambda s: reports.alarms_csv(reports.alarm_rows(s, EVERYTHING, year))
            ),
            "incidents_csv_year_ms": timed(
                db, lambda s: incidents.csv_text(s, incidents.query(s, EVERYTHING, every))
            ),
            "answer_times_month_ms": timed(
                db, lambda s: reports.answer_times(s, EVERYTHING, month)
            ),
        }
        db.engine.dispose()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
