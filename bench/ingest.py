"""Ingest throughput: signed frames posted to a running monitor (uvicorn, its own process).

Per engine (SQLite file in WAL mode; a throwaway PostgreSQL cluster on a Unix socket):
  * a loader posts batches of BATCH pre-signed frames (heartbeats from DEVICES fobs, 1 % SOS)
    back to back for DURATION_S; frames/s counts frames the monitor verified and stored;
  * a probe posts a single SOS frame every PROBE_EVERY_S meanwhile: p99_ingest_ms is the
    99th percentile of that round trip, i.e. how long one alarm waits behind bulk traffic.

With --loaders N, N gateways post bulk at once (each every N-th batch): the probe then measures
an alarm from one gateway behind the others' floods.

Runs, in this order and in one process so the ratios compare like with like:
  * pysiaalarm's DC-09 receiver (bench/sia_peer.py), the peer: plain alarms/s it ACKs;
  * SQLite, JSON (POST /v1/frames): frames_per_s_sqlite, p99_ingest_ms;
  * SQLite, packed (POST /v1/frames/binary, what the gateway and the phone post):
    frames_per_s_sqlite_binary, p99_alarm_behind_bulk_ms (the probe's p99 on that path);
  * PostgreSQL, packed: frames_per_s_postgres (its p99 is printed); then two monitor
    instances on one database, two gateways: frames_per_s_postgres_2_instances.
vs_pysiaalarm = frames_per_s_sqlite_binary / the peer's alarms/s. The per-gateway heartbeat
cap is off here (the loaders share one token): this measures what the receiver can take.

Last line JSON: {"frames_per_s_sqlite", "frames_per_s_postgres",
"frames_per_s_postgres_2_instances", "p99_ingest_ms",
"frames_per_s_sqlite_binary", "p99_alarm_behind_bulk_ms", "pysiaalarm_alarms_per_s",
"vs_pysiaalarm"}
Run: .venv/bin/python -m bench.ingest [--duration 8] [--loaders N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench import sia_peer
from devstack.pg import Cluster
from monitor.core.config import Settings
from monitor.core.crypto import KeyBox
from monitor.core.db import Database
from monitor.services import provisioning
from protocol import frame_types as ft
from protocol import frames, relay_batch

ROOT = Path(__file__).resolve().parent.parent
DEVICES = 500
BATCH = 1000  # the API maximum: what a gateway draining a backlog sends
PROBE_EVERY_S = 0.05
TOKEN = "vgw_bench_token"
MASTER = "bench-master-key-" + "z" * 32
PACKED = {"Content-Type": "application/octet-stream"}


def prepare(url: str) -> dict[int, bytes]:
    settings = Settings(environment="test", database_url=url, master_key=MASTER)
    db = Database(settings.database_url)
    db.migrate()
    kb = KeyBox(settings.master_key)
    keys: dict[int, bytes] = {}
    with db.session() as s:
        provisioning.create_gateway(s, "bench", "bench-gw", token=TOKEN)
        for i in range(1, DEVICES + 2):  # the last device is the probe's
            d, key = provisioning.provision_device(s, kb, "bench", board="sim", device_id=i)
            keys[d.id] = key
    db.engine.dispose()
    return keys


def frames_for(keys: dict[int, bytes], total: int) -> list[list[dict[str, object]]]:
    now = dt.datetime.now(dt.UTC).isoformat()
    counters = dict.fromkeys(keys, 0)
    ids = list(keys)[:-1]
    out: list[dict[str, object]] = []
    for n in range(total):
        dev = ids[n % len(ids)]
        counters[dev] += 1
        if n % 100 == 99:
            raw = frames.encode(ft.SOS, dev, counters[dev], (80, 0, 0), keys[dev])
        else:
            raw = frames.encode(ft.HEARTBEAT, dev, counters[dev], (90, 0, 0, 1), keys[dev])
        out.append({"frame": raw.hex(), "received_at": now, "link": "ble", "rssi": -60})
    return [out[i : i + BATCH] for i in range(0, len(out), BATCH)]


def serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VIGIL_ENVIRONMENT": "test",
        "VIGIL_DATABASE_URL": url,
        "VIGIL_MASTER_KEY": MASTER,
        "VIGIL_RUN_SCHEDULER": "false",
        # The receiver's capacity, not the per-gateway heartbeat cap: the loaders share a token.
        "VIGIL_BULK_FRAMES_PER_S_PER_GATEWAY": "0",
    }
    p = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return p
        except httpx.HTTPError:
            time.sleep(0.1)
    p.kill()
    raise RuntimeError("monitor did not start")


def packed(batch: list[dict[str, object]]) -> bytes:
    """The same batch as a relay packs it for /v1/frames/binary (heard just now)."""
    base_ms = int(time.time() * 1000)
    items = [(bytes.fromhex(str(i["frame"])), 0, i["link"], i["rssi"], None) for i in batch]
    body: bytes = relay_batch.encode_request(items, base_ms)
    return body


class Poster:
    """One gateway's connection, posting JSON or packed; returns how many frames were stored."""

    def __init__(self, port: int, binary: bool) -> None:
        self.binary = binary
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=60,
        )

    def post(self, batch: list[dict[str, object]] | bytes, count: int) -> list[str]:
        if self.binary:
            assert isinstance(batch, bytes)
            r = self.http.post("/v1/frames/binary", content=batch, headers=PACKED)
            r.raise_for_status()
            return [s for s, _, _ in relay_batch.decode_reply(r.content, count)]
        r = self.http.post("/v1/frames", json={"frames": batch})
        r.raise_for_status()
        return [x["status"] for x in r.json()["results"]]


def probe(
    port: int, binary: bool, device: int, key: bytes, stop: Any, out: mp.Queue[list[float]]
) -> None:
    """One SOS at a time, every PROBE_EVERY_S, until `stop`; its round trips (ms) to `out`."""
    c = Poster(port, binary)
    lat: list[float] = []
    n = 0
    while not stop.is_set():
        n += 1
        raw = frames.encode(ft.SOS, device, n, (80, 0, 0), key).hex()
        item: dict[str, object] = {"frame": raw, "link": "ble", "rssi": -60}
        item["received_at"] = dt.datetime.now(dt.UTC).isoformat()
        t = time.perf_counter()
        [status] = c.post(packed([item]) if binary else [item], 1)
        lat.append((time.perf_counter() - t) * 1000)
        assert status == "accepted", status
        time.sleep(PROBE_EVERY_S)
    out.put(lat)


def run(
    url: str,
    duration: float,
    port: int,
    loaders: int = 1,
    binary: bool = False,
    instances: int = 1,
) -> tuple[float, float, float]:
    """(frames/s stored, the probe's p99 and p50 in ms). With `instances`, that many monitors
    on the same database (PostgreSQL), on ports port, port+1...; loader k posts to k mod n."""
    keys = prepare(url)
    # Enough pre-signed frames for the run: signing (and packing) is not what we measure.
    batches = frames_for(keys, 60_000 if not binary else 120_000)
    bodies: list[list[dict[str, object]] | bytes] = []
    bodies += [packed(b) for b in batches] if binary else batches
    probe_dev = max(keys)
    servers = [serve(url, port + i) for i in range(instances)]
    loaders = max(loaders, instances)
    stored = 0
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    answers: mp.Queue[list[float]] = ctx.Queue()

    try:
        Poster(port, binary).post(bodies[0], len(batches[0]))  # warm up (these are stored too)
        # The alarm comes from another gateway: its own process, so its round trip is not also
        # waiting on this one's interpreter.
        t = ctx.Process(
            target=probe, args=(port, binary, probe_dev, keys[probe_dev], stop, answers)
        )
        t.start()
        start = time.perf_counter()
        counts = [0] * loaders

        def load(k: int) -> None:
            # Loader k posts every loaders-th batch: several gateways draining at once.
            mine = Poster(port + k % instances, binary)
            for n in range(1 + k, len(bodies), loaders):
                statuses = mine.post(bodies[n], len(batches[n]))
                counts[k] += statuses.count("accepted")
                if time.perf_counter() - start > duration:
                    break

        threads = [threading.Thread(target=load, args=(k,)) for k in range(loaders)]
        for lt in threads:
            lt.start()
        for lt in threads:
            lt.join()
        stored = sum(counts)
        elapsed = time.perf_counter() - start
        stop.set()
        lat = answers.get(timeout=30)
        t.join(10)
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
    p99 = statistics.quantiles(lat, n=100)[98] if len(lat) >= 2 else float("nan")
    return stored / elapsed, p99, statistics.median(lat) if lat else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--loaders", type=int, default=1, help="gateways posting bulk at once")
    args = ap.parse_args()
    # The peer first, on the same machine in the same run: the ratio is what is compared.
    peer = sia_peer.alarms_per_s(min(args.duration, 4.0))
    print(f"pysiaalarm: {peer:6.0f} alarms/s  (plain DC-09, 4 panels on loopback TCP, not stored)")
    with tempfile.TemporaryDirectory() as d:
        sqlite_fps, sqlite_p99, sqlite_p50 = run(
            f"sqlite:///{d}/bench.db", args.duration, 18931, args.loaders
        )
    print(
        f"sqlite:   {sqlite_fps:8.0f} frames/s  single-alarm p50 {sqlite_p50:.1f} ms "
        f"p99 {sqlite_p99:.1f} ms (JSON, batches of {BATCH}, {DEVICES} fobs)"
    )
    with tempfile.TemporaryDirectory() as d:
        bin_fps, bin_p99, bin_p50 = run(
            f"sqlite:///{d}/bench.db", args.duration, 18933, args.loaders, binary=True
        )
    print(
        f"sqlite:   {bin_fps:8.0f} frames/s  single-alarm p50 {bin_p50:.1f} ms "
        f"p99 {bin_p99:.1f} ms (binary)"
    )
    cluster = Cluster()
    cluster.start()
    try:
        pg_fps, pg_p99, pg_p50 = run(
            cluster.new_database(), args.duration, 18932, args.loaders, binary=True
        )
        pg2_fps, pg2_p99, _ = run(
            cluster.new_database(), args.duration, 18935, 2, binary=True, instances=2
        )
    finally:
        cluster.stop()
    print(
        f"postgres: {pg_fps:8.0f} frames/s  single-alarm p50 {pg_p50:.1f} ms "
        f"p99 {pg_p99:.1f} ms (binary)"
    )
    print(f"vs pysiaalarm: {bin_fps / peer:.2f}x (SQLite, binary), {sqlite_fps / peer:.2f}x (JSON)")
    print(
        json.dumps(
            {
                "frames_per_s_sqlite": round(sqlite_fps),
                "frames_per_s_postgres": round(pg_fps),
                "frames_per_s_postgres_2_instances": round(pg2_fps),
                "p99_ingest_ms": round(sqlite_p99, 1),
                "frames_per_s_sqlite_binary": round(bin_fps),
                "p99_alarm_behind_bulk_ms": round(bin_p99, 1),
                "pysiaalarm_alarms_per_s": round(peer),
                "vs_pysiaalarm": round(bin_fps / peer, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
