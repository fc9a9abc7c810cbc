"""Several real monitor processes on one throwaway PostgreSQL: fan-out, leadership, ingest.

Each instance is its own `python -m monitor serve` on a loopback port, as behind a load balancer;
the only thing they share is the database.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from devstack.localstack import Proc, child_env, free_port, wait_http
from devstack.pg import Cluster
from host_tests.support.monitor import ADMIN_PASSWORD, DEVICE_KEY, gateway_client, heartbeat, sos
from monitor.seed import Seeded
from monitor.services.scheduler import ADVISORY_LOCK_KEY
from protocol import frame_types as ft
from protocol import frames

pytestmark = pytest.mark.postgres

FAN_OUT_LIMIT_S = 1.0  # the "about a second" from ingest on A to the stream on B
FAILOVER_LIMIT_S = 10.0  # leader's session ends at once on kill -9; then one tick (0.3 s) and load
TICK_S = 0.3
BEAT_S = 1  # compressed heartbeat: offline after 3 s of silence


class Instance:
    def __init__(self, proc: Proc, url: str) -> None:
        self.proc, self.url = proc, url

    @property
    def pid(self) -> int:
        return self.proc.popen.pid


Start = Callable[..., list[Instance]]


@pytest.fixture
def start_instances(
    pg_cluster: Cluster, pg_template: tuple[str, Seeded], tmp_path: Path
) -> Iterator[Start]:
    started: list[Instance] = []

    def start(n: int, scheduler: bool = False, fresh: bool = False) -> list[Instance]:
        # fresh: an empty database that the instances themselves migrate, all at once.
        db_url = pg_cluster.new_database(template=None if fresh else pg_template[0])
        env = child_env(
            {
                "VIGIL_ENVIRONMENT": "test",
                "VIGIL_DATABASE_URL": db_url,
                "VIGIL_MASTER_KEY": "test-master-key-" + "x" * 32,
                "VIGIL_RUN_SCHEDULER": "true" if scheduler else "false",
                "VIGIL_SCHEDULER_TICK_S": str(TICK_S),
                "VIGIL_HEARTBEAT_INTERVAL_S": str(BEAT_S),
            }
        )
        out = []
        for i in range(n):
            port = free_port()
            argv = [sys.executable, "-m", "monitor", "serve", "--port", str(port)]
            proc = Proc(f"monitor-{i}", argv, env, tmp_path / f"monitor-{i}-{port}.log")
            out.append(Instance(proc, f"http://127.0.0.1:{port}"))
        for inst in out:
            wait_http(inst.url + "/v1/auth/me", inst.proc)
        started.extend(out)
        return out

    yield start
    for inst in started:
        inst.proc.stop()


def _operator(url: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=30)
    r = c.post("/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    r.raise_for_status()
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


class Stream:
    """An operator's live alarm stream on one instance, read in a thread."""

    def __init__(self, url: str) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.open = True
        self._ready = threading.Event()
        self._client = _operator(url)
        threading.Thread(target=self._read, daemon=True).start()
        assert self._ready.wait(10), "stream did not open"

    def _read(self) -> None:
        try:
            with self._client.stream("GET", "/v1/alarms/stream") as r:
                name = None
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        name = line.split(":", 1)[1].strip()
                        if name == "hello":
                            self._ready.set()
                    elif line.startswith("data:") and name == "alarm":
                        self.events.append((time.monotonic(), json.loads(line[5:])))
        except httpx.HTTPError:
            pass  # the instance went away
        self.open = False

    def wait_for(self, n: int, timeout: float = 10.0) -> list[tuple[float, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < n and time.monotonic() < deadline:
            time.sleep(0.005)
        return list(self.events)


def test_alarm_ingested_on_one_instance_reaches_streams_on_every_instance(
    start_instances: Start,
) -> None:
    a, b = start_instances(2)
    on_a, on_b = Stream(a.url), Stream(b.url)
    with gateway_client(a.url) as gw:
        sent = time.monotonic()
        gw.post("/v1/frames", json={"frames": [sos(1)]}).raise_for_status()
    [(at_b, alarm)] = on_b.wait_for(1)
    assert alarm["kind"] == "sos" and alarm["status"] == "open"
    assert at_b - sent < FAN_OUT_LIMIT_S
    [(_, same)] = on_a.wait_for(1)  # the ingesting instance's own operators see it once too
    assert same == alarm
    # A status change made on B reaches an operator on A.
    _operator(b.url).post(f"/v1/alarms/{alarm['id']}/acknowledge").raise_for_status()
    events = on_a.wait_for(2)
    assert [e["status"] for _, e in events] == ["open", "acknowledged"]
    time.sleep(0.3)
    assert len(on_b.events) == 2  # each change shown once per stream, never echoed twice


def test_downlink_queued_on_one_instance_wakes_a_long_poll_on_another(
    start_instances: Start,
) -> None:
    a, b = start_instances(2)
    with gateway_client(b.url) as gw:
        gw.post("/v1/frames", json={"frames": [sos(9)]}).raise_for_status()
        got: dict[str, Any] = {}

        def poll() -> None:
            r = gw.get("/v1/downlink", params={"after": 0, "wait": 20})
            got["body"], got["at"] = r.json(), time.monotonic()

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.5)  # the poll is waiting on B
        op = _operator(a.url)
        aid = op.get("/v1/alarms").json()[0]["id"]
        acked = time.monotonic()
        op.post(f"/v1/alarms/{aid}/acknowledge").raise_for_status()
        t.join(25)
    [item] = got["body"]["items"]
    f = frames.decode(bytes.fromhex(item["frame"]), DEVICE_KEY, ft.DOWNLINK)
    assert f.ftype == ft.ACK_HELP and f.fields == (9,)
    # Woken by NOTIFY, not by the 5 s safety-net re-check.
    assert got["at"] - acked < FAN_OUT_LIMIT_S


def test_same_frames_to_two_instances_at_once_raise_each_alarm_once(
    start_instances: Start,
) -> None:
    a, b = start_instances(2)
    stream = Stream(b.url)
    rounds, per_round = 8, 10
    counter = 0
    statuses: dict[tuple[int, int], list[str]] = {}
    with gateway_client(a.url) as gw_a, gateway_client(b.url) as gw_b:
        pool = ThreadPoolExecutor(2)
        for _ in range(rounds):
            batch = []
            for i in range(per_round):
                counter += 1
                batch.append(sos(counter) if i % 3 == 0 else heartbeat(counter))
            futures = [
                pool.submit(gw.post, "/v1/frames", json={"frames": batch}) for gw in (gw_a, gw_b)
            ]
            for fut in futures:
                r = fut.result()
                r.raise_for_status()
                for res in r.json()["results"]:
                    statuses.setdefault((res["device_id"], res["counter"]), []).append(
                        res["status"]
                    )
                    assert res["ack"] is not None  # both gateways can ack their fob
        pool.shutdown()
    assert len(statuses) == counter
    for key, got in statuses.items():
        assert sorted(got) == ["accepted", "duplicate"], key
    n_sos = len([c for c in range(1, counter + 1) if (c - 1) % per_round % 3 == 0])
    alarms = _operator(a.url).get("/v1/alarms", params={"limit": 500}).json()
    assert len(alarms) == n_sos
    events = stream.wait_for(n_sos)
    time.sleep(0.3)
    assert len(stream.events) == n_sos
    assert len({e["id"] for _, e in events}) == n_sos  # each alarm shown once


def _leader(cluster: Cluster, db_name: str) -> int | None:
    """The pid of the monitor process holding the scheduler lock, from PostgreSQL itself."""
    with psycopg.connect(cluster.admin_dsn()) as conn:
        rows = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND a.datname = %s"
            " AND l.classid::bigint = %s AND l.objid::bigint = %s",
            (db_name, (ADVISORY_LOCK_KEY >> 32) & 0xFFFF_FFFF, ADVISORY_LOCK_KEY & 0xFFFF_FFFF),
        ).fetchall()
    assert len(rows) <= 1  # never two leaders
    return int(rows[0][0].split(" pid ", 1)[1].split()[0]) if rows else None


def _wait_leader(cluster: Cluster, db: str, among: set[int], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _leader(cluster, db)
        if pid in among:
            return pid
        time.sleep(0.05)
    raise AssertionError(f"no leader among {among} within {timeout} s")


def test_scheduler_leads_on_one_instance_and_fails_over_when_it_is_killed(
    start_instances: Start, pg_cluster: Cluster
) -> None:
    instances = start_instances(3, scheduler=True)
    by_pid = {i.pid: i for i in instances}
    db = _database_of(pg_cluster, set(by_pid))
    leader = _wait_leader(pg_cluster, db, set(by_pid), FAILOVER_LIMIT_S)
    time.sleep(4 * TICK_S)
    assert _leader(pg_cluster, db) == leader  # leadership is stable, not passed around
    by_pid[leader].proc.kill9()
    killed = time.monotonic()
    survivors = set(by_pid) - {leader}
    new_leader = _wait_leader(pg_cluster, db, survivors, FAILOVER_LIMIT_S)
    failover_s = time.monotonic() - killed
    assert failover_s < FAILOVER_LIMIT_S
    # The new leader supervises: a fob that goes silent is raised offline, exactly once.
    survivor = by_pid[next(iter(survivors - {new_leader}))]
    stream = Stream(survivor.url)
    with gateway_client(survivor.url) as gw:
        gw.post("/v1/frames", json={"frames": [heartbeat(1)]}).raise_for_status()
    events = stream.wait_for(1, timeout=3 * BEAT_S + 5)
    assert [e["kind"] for _, e in events] == ["device_offline"]
    time.sleep(6 * TICK_S)
    alarms = _operator(survivor.url).get("/v1/alarms").json()
    assert [a["kind"] for a in alarms] == ["device_offline"]


def _database_of(cluster: Cluster, pids: set[int]) -> str:
    """The database our monitor processes are connected to (each test has its own)."""
    deadline = time.monotonic() + FAILOVER_LIMIT_S
    while time.monotonic() < deadline:
        with psycopg.connect(cluster.admin_dsn()) as conn:
            rows = conn.execute(
                "SELECT DISTINCT datname, application_name FROM pg_stat_activity"
                " WHERE application_name LIKE 'vigil-monitor %%'"
            ).fetchall()
        for datname, app in rows:
            if int(app.split(" pid ", 1)[1].split()[0]) in pids:
                return str(datname)
        time.sleep(0.05)
    raise AssertionError("monitor processes not connected")


def test_instances_started_together_on_an_empty_database_migrate_it_once(
    start_instances: Start,
) -> None:
    instances = start_instances(3, fresh=True)
    # All three came up (wait_http) and serve the same schema: a login attempt is answered
    # (401: no users yet) rather than failing on a missing table.
    for inst in instances:
        r = httpx.post(
            inst.url + "/v1/auth/login", json={"username": "nobody", "password": "x" * 12}
        )
        assert r.status_code == 401, r.text
        assert inst.proc.alive


def test_losing_the_listen_connection_ends_streams_so_consoles_resync(
    start_instances: Start, pg_cluster: Cluster
) -> None:
    a, b = start_instances(2)
    on_b = Stream(b.url)
    db = _database_of(pg_cluster, {a.pid, b.pid})
    with psycopg.connect(pg_cluster.admin_dsn(), autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = %s",
            (db, f"vigil-monitor {socket.gethostname()} pid {b.pid} listen"[:63]),
        ).fetchall()
    assert killed == [(True,)]
    # B's stream ends instead of staying open while deaf to other instances' alarms...
    deadline = time.monotonic() + 10
    while on_b.open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not on_b.open
    # ...and once B listens again (it reconnects within a second), a new stream there gets
    # alarms ingested on A.
    time.sleep(1.0)
    again = Stream(b.url)
    with gateway_client(a.url) as gw:
        gw.post("/v1/frames", json={"frames": [sos(1)]}).raise_for_status()
    [(_, alarm)] = again.wait_for(1)
    assert alarm["kind"] == "sos"
