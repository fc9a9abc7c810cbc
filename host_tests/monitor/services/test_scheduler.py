"""The scheduler really runs inside the service: silence becomes an alarm with no one asking."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from fastapi.testclient import TestClient

from host_tests.support.monitor import GATEWAY_TOKEN, Env, heartbeat, make_settings
from monitor.api.main import create_app
from monitor.core.db import Database
from monitor.seed import Seeded
from monitor.services import escalation, scheduler

BEAT_S = 1  # compressed heartbeat interval: offline after 3 s of silence
WAIT_S = 10.0


def test_scheduler_raises_offline_and_clears_it_when_the_fob_returns(
    tmp_path: Path, sqlite_template: tuple[Path, Seeded]
) -> None:
    shutil.copy(sqlite_template[0], tmp_path / "vigil.db")
    settings = make_settings(
        f"sqlite:///{tmp_path}/vigil.db",
        run_scheduler=True,
        scheduler_tick_s=0.2,
        heartbeat_interval_s=BEAT_S,
    )
    app = create_app(settings)
    gw = {"Authorization": f"Bearer {GATEWAY_TOKEN}"}
    with TestClient(app) as c:
        c.post("/v1/frames", json={"frames": [heartbeat(1)]}, headers=gw).raise_for_status()
        r = c.post(
            "/v1/auth/login", json={"username": "operator", "password": "operator-password-123"}
        )
        assert r.status_code == 200
        started = time.monotonic()
        alarms: list[dict[str, object]] = []
        while not alarms and time.monotonic() - started < WAIT_S:
            time.sleep(0.2)
            alarms = c.get("/v1/alarms").json()
        waited = time.monotonic() - started
        assert [a["kind"] for a in alarms] == ["device_offline"]
        assert 3 * BEAT_S - 1 <= waited < 3 * BEAT_S + 3
        c.post("/v1/frames", json={"frames": [heartbeat(2)]}, headers=gw).raise_for_status()
        assert c.get("/v1/alarms").json() == []
        [a] = c.get("/v1/alarms?status=resolved").json()
        assert a["outcome"] == "device_returned"
    app.state.db.engine.dispose()


def test_one_instance_leads_until_it_lets_go(env: Env) -> None:
    db, settings = env.app.state.db, env.app.state.settings
    notifier = escalation.WebhookNotifier()
    first = scheduler.Leadership(db)
    if db.is_sqlite:
        assert scheduler.tick(db, settings, notifier, first) is True  # one instance by design
        return
    assert scheduler.tick(db, settings, notifier, first) is True
    # A second instance (own Database, own connections) must stand aside, tick after tick.
    other = Database(str(db.engine.url.render_as_string(hide_password=False)))
    second = scheduler.Leadership(other)
    assert scheduler.tick(other, settings, notifier, second) is False
    assert scheduler.tick(db, settings, notifier, first) is True  # the leader keeps leading
    assert scheduler.tick(other, settings, notifier, second) is False
    first.release()
    assert scheduler.tick(other, settings, notifier, second) is True  # released: taken over
    assert scheduler.tick(db, settings, notifier, first) is False
    second.release()
    other.engine.dispose()
