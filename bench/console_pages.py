"""Console page cost for the people who run the service: the workers list, the fleet, the risk
reviews due and one worker's page, rendered through the app (TestClient, a migrated SQLite file)
for a parliament-sized service (106 workers with a fob each, 20 spares) and one 10x larger.

Each figure is the median of RUNS requests in ms; `*_ratio` divides it by the login page (a
template with no database work) measured in the same run, so a noisy machine shows as noise in
both. Each worker has two escalation contacts and a risk assessment; every tenth has an incident
since it.

The pages are timed after `freeze_startup_heap()`, as `python -m monitor` serves them;
`workers_unfrozen_ms` is /workers before it, the baseline in the same run.

Last line JSON: {"workers", "spares", "workers_ms", "devices_ms", "reviews_ms", "worker_ms",
"login_ms", "workers_ratio", "devices_ratio", "reviews_ratio", "worker_ratio",
"workers_unfrozen_ms"} for the larger size. Run: .venv/bin/python -m bench.console_pages
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from monitor.api.main import create_app, freeze_startup_heap
from monitor.core.config import Settings
from monitor.models import Contact, Device, Incident, RiskAssessment, Worker, utcnow
from monitor.services import auth

RUNS = 7
PASSWORD = "bench-password-123"


def populate(app: Any, workers: int, spares: int) -> int:
    """Returns the id of one worker for the worker page."""
    now = utcnow()
    with app.state.db.session() as s:
        admin = auth.create_user(s, "system", "admin", "Bench Admin", "admin", PASSWORD)
        s.flush()
        first = 0
        for n in range(workers):
            w = Worker(name=f"Worker {n:05d}", team=f"Team {n % 8}", phone="+447700900000")
            s.add(w)
            s.flush()
            first = first or w.id
            s.add(Device(id=1000 + n, board="m5stickc-plus2", key_sealed=b"x" * 40,
                         worker_id=w.id, last_seen_at=now, battery_pct=80))  # fmt: skip
            for pos in range(2):
                s.add(Contact(worker_id=w.id, position=pos, name=f"C{pos}", channel="email",
                              address="duty@example.org", delay_s=60 * (pos + 1)))  # fmt: skip
            s.add(RiskAssessment(worker_id=w.id, version=1, hazards="h", controls="c",
                                 level="medium", owner="o", changed_at=now - dt.timedelta(days=1),
                                 changed_by=admin.id,
                                 review_due=(now + dt.timedelta(days=20 + n % 300)).date(),
                                 ))  # fmt: skip
            if n % 10 == 0:
                s.add(Incident(type="phone_abuse", occurred_at=now, worker_id=w.id, team=w.team,
                               created_at=now, created_by=admin.id))  # fmt: skip
        for n in range(spares):
            s.add(Device(id=900_000 + n, board="m5stickc-plus2", key_sealed=b"x" * 40))
        s.commit()
        return first


def timed(client: TestClient, path: str) -> float:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
    return round(statistics.median(times), 1)


def measure(workers: int, spares: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'vigil.db'}",
            environment="test",
            run_scheduler=False,
            master_key="bench-master-key-" + "x" * 32,
        )
        app = create_app(settings)
        one = populate(app, workers, spares)
        with TestClient(app) as client:
            r = client.post("/v1/auth/login", json={"username": "admin", "password": PASSWORD})
            assert r.status_code == 200, r.text
            out: dict[str, Any] = {"workers": workers, "spares": spares}
            # The baseline: the heap as create_app leaves it, every full collection walking it.
            gc.unfreeze()
            out["workers_unfrozen_ms"] = timed(client, "/workers")
            freeze_startup_heap()  # as `python -m monitor` does before it serves
            for key, path in (
                ("workers_ms", "/workers"),
                ("devices_ms", "/devices"),
                ("reviews_ms", "/workers/reviews"),
                ("worker_ms", f"/workers/{one}"),
            ):
                out[key] = timed(client, path)
            client.cookies.clear()
            out["login_ms"] = timed(client, "/login")
        app.state.db.engine.dispose()
    for key in ("workers", "devices", "reviews", "worker"):
        out[f"{key}_ratio"] = round(out[f"{key}_ms"] / out["login_ms"], 1)
    return out


def main() -> None:
    small = measure(106, 20)
    print("parliament-sized:", small)
    large = measure(1060, 200)
    print("ten times larger:", large)
    print(json.dumps(large))


if __name__ == "__main__":
    main()
