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


def test_a_new_alarm_wakes_the_scheduler_so_a_zero_delay_contact_hears_before_the_tick(
    tmp_path: Path, sqlite_template: tuple[Path, Seeded]
) -> None:
    """A 30 s tick, and an e-mail contact with no delay: the message reaches a real SMTP
    server (aiosmtpd) within a second of the alarm, because the alarm's commit wakes the
    scheduler; before, it waited for the next tick."""
    from devstack.smtp_sink import SmtpSink
    from host_tests.support.monitor import sos
    from monitor.models import Contact

    shutil.copy(sqlite_template[0], tmp_path / "vigil.db")
    sink = SmtpSink().start()
    try:
        settings = make_settings(
            f"sqlite:///{tmp_path}/vigil.db",
            run_scheduler=True,
            scheduler_tick_s=30.0,
            smtp_host=sink.host,
            smtp_port=sink.port,
            smtp_security="none",
            smtp_from="vigil@test.invalid",
        )
        app = create_app(settings)
        with app.state.db.session() as s:
            s.add(
                Contact(
                    worker_id=sqlite_template[1].worker_id,
                    position=0,
                    name="Lead",
                    channel="email",
                    address="lead@test.invalid",
                    delay_s=0,
                )
            )
        gw = {"Authorization": f"Bearer {GATEWAY_TOKEN}"}
        with TestClient(app) as c:
            time.sleep(0.5)  # the first tick has run: the next is 30 s away
            started = time.monotonic()
            c.post("/v1/frames", json={"frames": [sos(1)]}, headers=gw).raise_for_status()
            sink.wait_for(1, timeout_s=5.0)
            took = time.monotonic() - started
        app.state.db.engine.dispose()
    finally:
        sink.stop()
    assert took < 2.0, took
