"""Load: N protocol-level simulated fobs through several gateway processes into 1, then 2 monitor
instances sharing one PostgreSQL, with one instance killed (kill -9) halfway through the second.

What runs, all real processes on this machine:
  * a throwaway PostgreSQL cluster (devstack/pg.py), one database per phase;
  * monitor instances: `python -m monitor serve` with the scheduler on (supervising every fob);
  * bench/lbproxy.py: a loopback round-robin TCP proxy with failover, the "one address" the
    gateways and the operator use (the gateway takes one monitor URL);
  * GATEWAYS gateway processes, each the gateway's own relay code (gateway.relay.Relay, its
    durable SQLite queue, its MonitorClient) fed by its share of the simulated fobs. A simulated
    fob is a device id, a key and a counter: real signed 20-byte frames from protocol.frames,
    heartbeats every --heartbeat seconds (random phase), alarms (SOS) sprinkled at --alarm-rate,
    each from a different fob so every alarm is identifiable on the operator's stream;
  * an operator: the live SSE stream (GET /v1/alarms/stream) through the proxy; when its
    instance dies it reconnects and resyncs from GET /v1/alarms, as the console does.

Alarm latency is from the fob handing the frame to its gateway to the alarm event read on the
operator's stream (time.monotonic is system-wide on Linux, so processes share the clock).
lost = frames generated but never stored + alarms never shown to the operator (after a drain);
duplicates_shown = alarm cards the operator was shown more than once per raised alarm.

Last line JSON (the second phase: 2 instances, one killed; lost and duplicates summed over both):
{"fobs": N, "frames_per_s": x, "lost": N, "duplicates_shown": N, "p99_alarm_ms_under_load": x,
 "instances": N}
First, the floor: single SOS posts straight to one idle instance, timed to the stream.
Run: .venv/bin/python -m bench.load [--fobs 10000] [--duration 45] [--heartbeat 60]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import insert

from devstack.localstack import free_port
from devstack.pg import Cluster
from gateway.monitor_client import MonitorClient
from gateway.queue import FrameQueue
from gateway.relay import Relay
from gateway.transport import FobLink
from monitor.core.config import Settings
from monitor.core.crypto import KeyBox, new_device_key
from monitor.core.db import Database
from monitor.models import Device, Worker
from monitor.services import auth, provisioning
from protocol import frame_types as ft
from protocol import frames

ROOT = Path(__file__).resolve().parent.parent
GATEWAYS = 4
MASTER = "bench-master-key-" + "z" * 32
OPERATOR = ("bench-operator", "bench-operator-password")
STARTUP_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 60.0  # after the load stops: gateway queues empty, every alarm shown
HEALTH_INTERVAL_S = 10.0
FLOOR_ALARMS = 50


# -- set-up ----------------------------------------------------------------------------------


def prepare(url: str, n_fobs: int, n_gateways: int) -> tuple[dict[int, bytes], list[str]]:
    """Provision fobs (all carried by a worker, so supervision watches them) and gateways."""
    settings = Settings(environment="test", database_url=url, master_key=MASTER)
    db = Database(settings.database_url)
    db.migrate()
    kb = KeyBox(settings.master_key)
    keys: dict[int, bytes] = {}
    tokens = []
    with db.session() as s:
        worker = Worker(name="Bench crew", phone="+44 7700 900000", team="Load test")
        s.add(worker)
        s.flush()
        auth.create_user(s, "bench", OPERATOR[0], "Bench Operator", "operator", OPERATOR[1])
        for i in range(n_gateways):
            _, token = provisioning.create_gateway(s, "bench", f"bench-gw-{i}")
            tokens.append(token)
        # The first fob the way an admin provisions one; the rest in bulk with the same sealed-key
        # columns (provisioning one by one, with its audit record each, takes over a minute).
        d, keys[1] = provisioning.provision_device(
            s, kb, "bench", board="sim", device_id=1, worker_id=worker.id
        )
        rows = []
        for i in range(2, n_fobs + 1):
            keys[i] = new_device_key()
            rows.append(
                {
                    "id": i,
                    "board": "sim",
                    "key_sealed": kb.seal(i, keys[i]),
                    "worker_id": worker.id,
                    "replay_highest": -1,
                    "replay_bitmap": 0,
                    "downlink_counter": 0,
                }
            )
        if rows:
            s.execute(insert(Device), rows)
    db.engine.dispose()
    return keys, tokens


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited during start-up")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not answer on {url}")


def start_monitor(db_url: str, port: int, heartbeat_s: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "VIGIL_ENVIRONMENT": "test",
            "VIGIL_DATABASE_URL": db_url,
            "VIGIL_MASTER_KEY": MASTER,
            "VIGIL_HEARTBEAT_INTERVAL_S": str(heartbeat_s),
        }
    )
    argv = [sys.executable, "-m", "monitor", "serve", "--port", str(port)]
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/v1/auth/me", proc, f"monitor on {port}")
    return proc


# -- a gateway process with its simulated fobs -------------------------------------------------


class SimLink(FobLink):
    """The fob's end of a link: it takes acks and downlinks (and counts them)."""

    def __init__(self, device_id: int, acks: list[int]) -> None:
        super().__init__("ble", f"sim:{device_id}")
        self._acks = acks

    @property
    def connected(self) -> bool:
        return True

    async def send(self, frame: bytes) -> None:
        self._acks[0] += 1


@dataclass
class GatewayJob:
    index: int
    token: str
    base_url: str
    keys: dict[int, bytes]
    heartbeat_s: float
    duration_s: float
    start_at: float  # time.monotonic() at which the load starts
    alarms: list[tuple[float, int]]  # (offset from start, device id)
    workdir: str
    seed: int


def gateway_main(job: GatewayJob, out: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(_gateway(job, out))


async def _gateway(job: GatewayJob, out: Any) -> None:
    queue = FrameQueue(Path(job.workdir) / f"gateway-{job.index}.sqlite3")
    client = MonitorClient(job.base_url, job.token)
    relay = Relay(queue, client, health_interval=HEALTH_INTERVAL_S)
    acks = [0]
    links = {d: SimLink(d, acks) for d in job.keys}
    encoders = {d: frames.Encoder(d, k) for d, k in job.keys.items()}
    counters = dict.fromkeys(job.keys, 0)
    rng = random.Random(job.seed)
    events: list[tuple[float, int, int]] = []  # (offset, kind 0 heartbeat / 1 alarm, device)
    for d in job.keys:
        t = rng.uniform(0, job.heartbeat_s)
        while t < job.duration_s:
            events.append((t, 0, d))
            t += job.heartbeat_s
    events += [(t, 1, d) for t, d in job.alarms]
    events.sort()
    runner = asyncio.create_task(relay.run())
    generated = 0
    for offset, kind, d in events:
        delay = job.start_at + offset - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        counters[d] += 1
        if kind == 0:
            frame = bytes(encoders[d].encode(ft.HEARTBEAT, counters[d], (88, 0, 0, 1)))
        else:
            frame = bytes(encoders[d].encode(ft.SOS, counters[d], (88, 0, 0)))
            out.put(("alarm", d, counters[d], time.monotonic()))
        relay.frame_received(frame, links[d], rssi=-60)
        generated += 1
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while queue.depth() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    out.put(
        (
            "done",
            job.index,
            {
                "generated": generated,
                "queue_left": queue.depth(),
                "acks_to_fobs": acks[0],
                **{k: v for k, v in relay.counters.items() if not k.startswith("link")},
            },
        )
    )
    runner.cancel()
    await client.aclose()
    queue.close()


# -- the operator --------------------------------------------------------------------------------


@dataclass
class Operator:
    base_url: str
    shown: list[tuple[float, int, int]] = field(default_factory=list)  # (t, alarm id, device)
    reconnects: int = 0
    resynced: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _seen_ids: set[int] = field(default_factory=set)

    def start(self) -> None:
        self._connected = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        if not self._connected.wait(STARTUP_TIMEOUT_S):
            raise SystemExit("operator stream did not open")

    def stop(self) -> None:
        self._stop.set()

    def _show(self, t: float, alarm: dict[str, Any], via_resync: bool) -> None:
        if alarm.get("kind") != "sos" or alarm.get("status") != "open":
            return
        if via_resync and alarm["id"] in self._seen_ids:
            return  # the console merges its resync by id: already on screen, not shown again
        self._seen_ids.add(alarm["id"])
        self.shown.append((t, alarm["id"], alarm["device_id"]))
        if via_resync:
            self.resynced += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(30.0)) as c:
                    c.post(
                        "/v1/auth/login", json={"username": OPERATOR[0], "password": OPERATOR[1]}
                    ).raise_for_status()
                    with c.stream("GET", "/v1/alarms/stream") as r:
                        r.raise_for_status()
                        name = None
                        for line in r.iter_lines():
                            if line.startswith("event:"):
                                name = line.split(":", 1)[1].strip()
                                if name == "hello":
                                    self._resync(c)
                                    self._connected.set()
                            elif line.startswith("data:") and name == "alarm":
                                self._show(time.monotonic(), json.loads(line[5:]), False)
                            if self._stop.is_set():
                                return
            except httpx.HTTPError:
                pass
            self.reconnects += 1
            time.sleep(0.2)

    def _resync(self, c: httpx.Client) -> None:
        # Alarms raised while the stream was down: exactly what the console does on reconnect.
        now = time.monotonic()
        for alarm in c.get("/v1/alarms", params={"status": "open", "limit": 1000}).json():
            self._show(now, alarm, True)


# -- one phase -----------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run_phase(
    args: argparse.Namespace,
    cluster: Cluster,
    template: str,
    keys: dict[int, bytes],
    tokens: list[str],
    instances: int,
    kill_midway: bool,
    workdir: Path,
) -> dict[str, Any]:
    db_url = cluster.new_database(template=template)
    ports = [free_port() for _ in range(instances)]
    monitors = [
        start_monitor(db_url, p, args.heartbeat, workdir / f"monitor-{instances}-{p}.log")
        for p in ports
    ]
    proxy_port = free_port()
    proxy = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "lbproxy.py"), "--listen", str(proxy_port)]
        + [a for p in ports for a in ("--backend", f"127.0.0.1:{p}")]
    )
    base = f"http://127.0.0.1:{proxy_port}"
    wait_http(base + "/v1/auth/me", proxy, "proxy")
    operator = Operator(base)
    operator.start()

    rng = random.Random(instances)
    ids = sorted(keys)
    n_alarms = int(args.alarm_rate * args.duration)
    alarm_devices = rng.sample(ids, min(n_alarms, len(ids)))
    alarm_at = {d: rng.uniform(1.0, args.duration - 1.0) for d in alarm_devices}
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.monotonic() + 3.0 + 0.3 * args.gateways  # spawned processes import first
    procs = []
    for g in range(args.gateways):
        share = {d: keys[d] for d in ids[g :: args.gateways]}
        job = GatewayJob(
            index=g,
            token=tokens[g],
            base_url=base,
            keys=share,
            heartbeat_s=args.heartbeat,
            duration_s=args.duration,
            start_at=start_at,
            alarms=[(alarm_at[d], d) for d in alarm_devices if d in share],
            workdir=str(workdir / f"gw-{instances}"),
            seed=1000 * instances + g,
        )
        Path(job.workdir).mkdir(parents=True, exist_ok=True)
        p = ctx.Process(target=gateway_main, args=(job, out), daemon=True)
        p.start()
        procs.append(p)

    killed_at = None
    if kill_midway:
        time.sleep(max(0.0, start_at + args.duration / 2 - time.monotonic()))
        # The instance serving the operator's stream: the proxy deals connections in turn and
        # the operator's is the second (after the start-up probe). The worst case: the stream
        # is cut as well as ingest, and the console must reconnect and resync.
        victim = 1 % instances
        monitors[victim].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        print(f"  killed monitor instance on port {ports[victim]} at t={args.duration / 2:.0f} s")

    sent: dict[int, float] = {}
    gateway_stats: dict[int, dict[str, int]] = {}
    deadline = start_at + args.duration + DRAIN_TIMEOUT_S + 10
    while len(gateway_stats) < args.gateways and time.monotonic() < deadline:
        try:
            msg = out.get(timeout=1.0)
        except Exception:  # noqa: BLE001 - queue.Empty: keep waiting for the gateways
            continue
        if msg[0] == "alarm":
            sent[msg[1]] = msg[3]
        else:
            gateway_stats[msg[1]] = msg[2]
    # Every alarm stored should reach the operator within the drain; wait for the stragglers.
    shown_devices = {d for _, _, d in operator.shown}
    wait_until = time.monotonic() + 10
    while set(sent) - shown_devices and time.monotonic() < wait_until:
        time.sleep(0.1)
        shown_devices = {d for _, _, d in operator.shown}
    operator.stop()
    reconnects = operator.reconnects  # before the monitors stop (which ends the stream too)
    for p in procs:
        p.join(5)
        if p.is_alive():
            p.kill()

    dbname = db_url.split("@/", 1)[1].split("?")[0]
    with psycopg.connect(f"host={cluster.dir} user=postgres dbname={dbname}") as conn:
        stored = conn.execute("SELECT count(*) FROM frames").fetchone()[0]  # type: ignore[index]
        sos_alarms = conn.execute(
            "SELECT count(*), count(DISTINCT device_id) FROM alarms WHERE kind = 'sos'"
        ).fetchone()
        frames_bytes = conn.execute("SELECT pg_total_relation_size('frames')").fetchone()[0]  # type: ignore[index]
        first, last = conn.execute("SELECT min(stored_at), max(stored_at) FROM frames").fetchone()  # type: ignore[misc]
    for m in monitors:
        if m.poll() is None:
            m.send_signal(signal.SIGINT)
    proxy.terminate()
    for m in monitors:
        try:
            m.wait(15)
        except subprocess.TimeoutExpired:
            m.kill()
    proxy.wait(5)

    generated = sum(s["generated"] for s in gateway_stats.values())
    first_seen: dict[int, float] = {}
    for t, _aid, d in operator.shown:
        first_seen.setdefault(d, t)
    latencies = [(first_seen[d] - t0) * 1000 for d, t0 in sent.items() if d in first_seen]
    steady = latencies
    if killed_at is not None:
        # Alarms sent in the seconds around the kill: reported apart as well as in the p99.
        steady = [
            (first_seen[d] - t0) * 1000
            for d, t0 in sent.items()
            if d in first_seen and not (killed_at - 1 <= t0 <= killed_at + 5)
        ]
    span = (last - first).total_seconds() if first and last else args.duration
    result = {
        "instances": instances,
        "generated": generated,
        "stored": stored,
        "frames_per_s": round(stored / max(span, 1e-9), 1),
        "alarms_sent": len(sent),
        "alarms_shown": len(first_seen),
        "sos_alarms_in_db": sos_alarms[0] if sos_alarms else 0,
        "lost_frames": max(0, generated - stored),
        "bytes_per_stored_frame": round(frames_bytes / max(stored, 1)),
        "lost_alarms": len(set(sent) - set(first_seen)),
        "duplicates_shown": len(operator.shown) - len(first_seen),
        "p50_alarm_ms": round(pct(latencies, 50), 1),
        "p99_alarm_ms": round(pct(latencies, 99), 1),
        "max_alarm_ms": round(max(latencies), 1) if latencies else None,
        "p99_alarm_ms_outside_kill_window": round(pct(steady, 99), 1),
        "operator_stream_reconnects": reconnects,
        "alarms_first_shown_by_resync": operator.resynced,
        "gateways": {
            k: {
                n: v
                for n, v in s.items()
                if n in ("generated", "queue_left", "acks_to_fobs")
                or n.startswith(("result.", "send_failure."))
            }
            for k, s in sorted(gateway_stats.items())
        },
    }
    if len(gateway_stats) < args.gateways:
        result["gateways_unfinished"] = args.gateways - len(gateway_stats)
    return result


def floor_probe(
    cluster: Cluster, template: str, keys: dict[int, bytes], token: str, workdir: Path
) -> dict[str, float]:
    """The monitor path alone, no load: single SOS posts straight to one instance, one at a time,
    timed to the operator's stream. What the load adds is the rest of the figures."""
    db_url = cluster.new_database(template=template)
    port = free_port()
    monitor = start_monitor(db_url, port, 60, workdir / "monitor-floor.log")
    base = f"http://127.0.0.1:{port}"
    operator = Operator(base)
    operator.start()
    stream_ms, post_ms = [], []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as gw:
        for d in sorted(keys)[:FLOOR_ALARMS]:
            item = {
                "frame": frames.encode(ft.SOS, d, 1, (88, 0, 0), keys[d]).hex(),
                "received_at": dt.datetime.now(dt.UTC).isoformat(),
                "link": "ble",
                "rssi": -60,
                "location": None,
            }
            t0 = time.monotonic()
            gw.post("/v1/frames", json={"frames": [item]}).raise_for_status()
            post_ms.append((time.monotonic() - t0) * 1000)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                seen = [t for t, _, dev in operator.shown if dev == d]
                if seen:
                    stream_ms.append((seen[0] - t0) * 1000)
                    break
                time.sleep(0.0005)
            time.sleep(0.05)
    operator.stop()
    monitor.send_signal(signal.SIGINT)
    monitor.wait(15)
    return {
        "floor_alarms": len(stream_ms),
        "floor_stream_p50_ms": round(pct(stream_ms, 50), 1),
        "floor_stream_p99_ms": round(pct(stream_ms, 99), 1),
        "floor_post_p50_ms": round(pct(post_ms, 50), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fobs", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=45.0, help="seconds of load per phase")
    parser.add_argument("--heartbeat", type=int, default=60, help="fob heartbeat interval, s")
    parser.add_argument("--alarm-rate", type=float, default=2.0, help="SOS alarms per second")
    parser.add_argument("--gateways", type=int, default=GATEWAYS)
    args = parser.parse_args()
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="vigil-load-"))
    cluster = Cluster()
    cluster.start()
    try:
        template_url = cluster.new_database()
        keys, tokens = prepare(template_url, args.fobs, args.gateways)
        template = template_url.split("@/", 1)[1].split("?")[0]
        print(
            f"{args.fobs} fobs, heartbeat {args.heartbeat} s "
            f"(offered {args.fobs / args.heartbeat:.0f} frames/s), {args.alarm_rate} SOS/s, "
            f"{args.gateways} gateway processes, {args.duration:.0f} s per phase; "
            f"set-up {time.monotonic() - started:.0f} s"
        )
        print(json.dumps(floor_probe(cluster, template, keys, tokens[0], workdir)))
        phases = []
        for instances, kill in ((1, False), (2, True)):
            r = run_phase(args, cluster, template, keys, tokens, instances, kill, workdir)
            print(json.dumps(r))
            phases.append(r)
    finally:
        cluster.stop()
    last = phases[-1]
    print(f"total {time.monotonic() - started:.0f} s; logs in {workdir}")
    print(
        json.dumps(
            {
                "fobs": args.fobs,
                "frames_per_s": last["frames_per_s"],
                "lost": sum(p["lost_frames"] + p["lost_alarms"] for p in phases),
                "duplicates_shown": sum(p["duplicates_shown"] for p in phases),
                "p99_alarm_ms_under_load": last["p99_alarm_ms"],
                "instances": last["instances"],
            }
        )
    )


if __name__ == "__main__":
    main()
