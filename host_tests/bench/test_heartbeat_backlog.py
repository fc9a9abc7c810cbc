"""bench/heartbeat_backlog.py: the bulk traffic bench.alarm_latency measures alarms behind. The
monitor is the demo's, a real process (devstack/localstack.py), as in the bench."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bench import heartbeat_backlog
from devstack.localstack import free_port, start_monitor
from monitor.core.db import Database
from monitor.models import Device


@pytest.fixture
def demo_monitor(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(URL, database URL) of a running demo monitor."""
    port = free_port()
    monitor = start_monitor(tmp_path / "monitor", port)
    try:
        yield f"http://127.0.0.1:{port}", f"sqlite:///{tmp_path / 'monitor' / 'monitor.sqlite3'}"
    finally:
        monitor.stop()


def test_the_backlog_is_heartbeats_the_monitor_accepted(demo_monitor: tuple[str, str]) -> None:
    url, database_url = demo_monitor
    token, keys = heartbeat_backlog.provision(database_url, devices=20)
    with heartbeat_backlog.Backlog(url, token, keys, batch=100) as backlog:
        time.sleep(0.5)
    assert backlog.accepted >= 100 and backlog.accepted % 100 == 0
    assert backlog.frames_per_s > 0
    db = Database(database_url)
    with db.session() as s:
        beats = s.scalars(select(Device.last_heartbeat_at).where(Device.id.in_(keys))).all()
    db.engine.dispose()
    assert len(beats) == 20 and all(at is not None for at in beats)


def test_a_backlog_the_monitor_refuses_fails_instead_of_counting(
    demo_monitor: tuple[str, str],
) -> None:
    url, database_url = demo_monitor
    token, keys = heartbeat_backlog.provision(database_url, devices=5)
    wrong = {device_id: bytes(16) for device_id in keys}  # not the keys the monitor holds
    backlog = heartbeat_backlog.Backlog(url, token, wrong, batch=10)
    with pytest.raises(RuntimeError, match="not accepted"), backlog:
        pass  # it must not get as far as measuring
