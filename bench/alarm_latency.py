"""Alarm latency end to end, with real processes.

Starts the monitor (`python -m monitor.demo`: uvicorn + SQLite), the gateway (`vigil gateway
run`) on a real pseudo-terminal, and an operator client on the live SSE stream. Then, acting as
the fob on the pty's other end, writes N signed SOS frames one at a time and measures

  alarm: SOS frame written to the serial line -> `event: alarm` received by the operator client
  ack:   SOS frame written to the serial line -> the monitor's signed ACK read back on the line

and, for comparison, the same SOS posted straight to the monitor's ingest API (no gateway, no
serial), which shows what the gateway itself adds.

Then (unless --no-backlog) the same N alarms again, in the same run, while a steady heartbeat
backlog flows (bench/heartbeat_backlog.py): another gateway, with its own token, drains its
outbox into the monitor, batches of 1,000 signed heartbeats from 500 other fobs posted to
`POST /v1/frames` back to back. That is the bulk traffic an alarm really competes with: the
alarm's own gateway serves its own fob (a serial line is one fob), so what it shares with
everyone else is the monitor, whose ingest (one process, one database writer) also takes every
other gateway's traffic, most of all a site's gateway catching up after an outage. The
idle figures are measured first, on the same monitor with the same fobs provisioned.

Last line is JSON (p50/p99/ack_p99/n idle, as before, then the backlog's):
{"p50_ms": .., "p99_ms": .., "ack_p99_ms": .., "n": .., "p99_ms_backlog": ..,
 "ack_p99_ms_backlog": .., "backlog_frames_per_s": ..}

    .venv/bin/python -m bench.alarm_latency --n 200
    .venv/bin/python -m bench.alarm_latency --n 200 --link ble   # over the emulated radio
    .venv/bin/python -m bench.alarm_latency --n 200 --no-backlog  # idle only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import select
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import heartbeat_backlog
from devstack.localstack import (
    Demo,
    Operator,
    Proc,
    free_port,
    pair_fob,
    start_air,
    start_gateway,
    start_monitor,
)
from protocol import frame_types, frames, framing

GAP_S = 0.02  # between alarms: independent alarms, not a burst that would batch
WAIT_S = 10.0  # per alarm; anything near this is a failure, not a latency
WARMUP = 5  # alarms per phase not counted: imports and cold caches, or the backlog settling


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def read_ack(master: int, deframer: framing.Deframer, key: bytes, counter: int) -> float:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            continue
        now = time.perf_counter()
        for payload in deframer.feed(os.read(master, 4096)):
            f = frames.decode(payload, key, expect=frame_types.DOWNLINK)
            if f.ftype == frame_types.ACK and f.fields[0] == counter:
                return now
    raise TimeoutError(f"no ack for counter {counter}")


def wait_open(master: int, gw_pid: int, path: str) -> None:
    fd_dir = f"/proc/{gw_pid}/fd"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if any(os.path.realpath(f"{fd_dir}/{fd}") == path for fd in os.listdir(fd_dir)):
                time.sleep(0.2)  # the gateway flushes input right after opening
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the gateway did not open the serial port")


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:<34} n={len(values):<4} p50 {pct(values, 50):6.1f} ms   "
        f"p90 {pct(values, 90):6.1f} ms   p99 {pct(values, 99):6.1f} ms   "
        f"max {max(values):6.1f} ms"
    )


class SerialSide:
    """The fob's end of the pty: write framed SOS, read framed acks."""

    label = "serial"

    def __init__(self, master: int, key: bytes) -> None:
        self.master, self.key = master, key
        self.deframer = framing.Deframer()

    def send(self, frame: bytes) -> float:
        wire = framing.encode(frame)
        t0 = time.perf_counter()
        os.write(self.master, wire)
        return t0

    def wait_ack(self, counter: int) -> float:
        return read_ack(self.master, self.deframer, self.key, counter)


class BleSide:
    """A simulated fob's BLE peripheral (bumble, over HCI-on-TCP to the simulated air)."""

    label = "emulated BLE"

    def __init__(self, link: Any, key: bytes) -> None:
        self.link, self.key = link, key
        self.inbox: list[bytes] = []
        link.attach(self)

    def on_downlink(self, data: bytes) -> None:  # the firmware-facing BleLink calls this
        self.inbox.append(bytes(data))

    def send(self, frame: bytes) -> float:
        t0 = time.perf_counter()
        if not self.link.send(frame):
            raise RuntimeError("BLE link not up")
        return t0

    def wait_ack(self, counter: int) -> float:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            self.link.poll()
            while self.inbox:
                f = frames.decode(self.inbox.pop(0), self.key, expect=frame_types.DOWNLINK)
                if f.ftype == frame_types.ACK and f.fields[0] == counter:
                    return time.perf_counter()
            time.sleep(0.0005)
        raise TimeoutError(f"no ack for counter {counter}")


class Fob:
    """The measured fob: its frame encoder and counter, shared by both phases."""

    def __init__(self, device_id: int, key: bytes) -> None:
        self.enc = frames.Encoder(device_id, key)
        self.counter = 0

    def sos(self) -> bytes:
        self.counter += 1
        return bytes(self.enc.encode(frame_types.SOS, self.counter, (90, 0, 0)))


def measure_alarms(
    side: SerialSide | BleSide, fob: Fob, operator: Operator, n: int
) -> tuple[list[float], list[float]]:
    """WARMUP + n SOS one at a time; (alarm ms, ack ms) of the last n."""
    alarm_ms: list[float] = []
    ack_ms: list[float] = []
    for i in range(WARMUP + n):
        t0 = side.send(fob.sos())
        t_ack = side.wait_ack(fob.counter)
        t_alarm, _alarm = operator.next_alarm(timeout=WAIT_S, kind="sos", status="open")
        if i >= WARMUP:
            alarm_ms.append((t_alarm - t0) * 1000)
            ack_ms.append((t_ack - t0) * 1000)
        time.sleep(GAP_S)
    return alarm_ms, ack_ms


def ble_setup(work: Path, url: str, demo: Demo, procs: list[Proc]) -> tuple[BleSide, Proc]:
    from hardware.sim.ble import BleLink

    gw_air, fob_air = free_port(), free_port()
    procs.append(start_air(work, [gw_air, fob_air]))
    link = BleLink(
        hci=f"tcp-client:127.0.0.1:{fob_air}",
        address="F0:00:00:00:00:0B",
        device_id=demo.device_id,
        bonds=str(work / "fob-bonds.json"),
    )
    hci = f"tcp-client:127.0.0.1:{gw_air}"
    allow = work / "gateway" / "fobs.json"
    link.ble.pairable = True  # stands in for the five taps (no firmware behind this link)
    pair_fob(allow, hci).check_returncode()
    gateway = start_gateway(
        work / "gateway",
        url,
        demo.gateway_token,
        [],
        "--timing",
        "--ble",
        "--ble-hci",
        hci,
        "--allowlist",
        str(allow),
    )
    deadline = time.monotonic() + 30
    while not link.up:
        if time.monotonic() > deadline:
            raise RuntimeError("the gateway did not connect to the BLE fob")
        time.sleep(0.05)
    return BleSide(link, demo.device_key), gateway


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--direct", type=int, default=100, help="SOS posted straight to the monitor")
    ap.add_argument("--link", choices=("serial", "ble"), default="serial")
    ap.add_argument(
        "--backlog",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure again with a steady heartbeat backlog from another gateway",
    )
    ap.add_argument(
        "--backlog-batch",
        type=int,
        default=heartbeat_backlog.BATCH,
        help="frames per backlog POST (the API's maximum; Vigil's own gateway sends up to 64)",
    )
    args = ap.parse_args()
    demo = Demo.load()
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    monitor = start_monitor(work / "monitor", port)
    procs: list[Proc] = [monitor]
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    side: SerialSide | BleSide
    if args.link == "ble":
        side, gateway = ble_setup(work, url, demo, procs)
    else:
        gateway = start_gateway(work / "gateway", url, demo.gateway_token, [path], "--timing")
        side = SerialSide(master, demo.device_key)
    procs.append(gateway)
    operator = Operator(url, *demo.operator)
    try:
        if args.link == "serial":
            wait_open(master, gateway.popen.pid, path)
        if args.backlog:  # before either phase: both see the same fobs and gateways
            backlog_token, backlog_keys = heartbeat_backlog.provision(
                f"sqlite:///{work / 'monitor' / 'monitor.sqlite3'}"
            )
        fob = Fob(demo.device_id, demo.device_key)
        alarm_ms, ack_ms = measure_alarms(side, fob, operator, args.n)

        direct_ms: list[float] = []
        direct_alarm_ms: list[float] = []
        with httpx.Client(
            base_url=url, timeout=WAIT_S, headers={"Authorization": f"Bearer {demo.gateway_token}"}
        ) as http:
            for _ in range(args.direct):
                raw = fob.sos()
                item = {
                    "frame": raw.hex(),
                    "link": "serial",
                    "rssi": None,
                    "location": None,
                    "received_at": datetime.now(UTC).isoformat(),
                }
                t0 = time.perf_counter()
                r = http.post("/v1/frames", json={"frames": [item]})
                t1 = time.perf_counter()
                assert r.json()["results"][0]["status"] == "accepted", r.text
                t_alarm, _alarm = operator.next_alarm(timeout=WAIT_S, kind="sos", status="open")
                direct_ms.append((t1 - t0) * 1000)
                direct_alarm_ms.append((t_alarm - t0) * 1000)
                time.sleep(GAP_S)

        backlog: heartbeat_backlog.Backlog | None = None
        if args.backlog:
            backlog = heartbeat_backlog.Backlog(
                url, backlog_token, backlog_keys, batch=args.backlog_batch
            )
            with backlog:
                alarm_ms_backlog, ack_ms_backlog = measure_alarms(side, fob, operator, args.n)
    finally:
        operator.close()
        for p in reversed(procs):
            p.stop(grace=2.0)
        os.close(master)

    print(f"machine: {os.cpu_count()} cpu, load average {os.getloadavg()[0]:.2f}")
    print(summary(f"{side.label} -> operator stream (alarm)", alarm_ms))
    print(summary(f"{side.label} -> ack back to the fob", ack_ms))
    if direct_ms:
        print(summary("ingest POST round trip (no gw)", direct_ms))
        print(summary("ingest POST -> operator stream", direct_alarm_ms))
    stages: dict[str, list[float]] = {}
    for line in gateway.log_path.read_text().splitlines():
        if "vigil.gateway.timing" in line:
            for k, v in json.loads(line.split(" timing ", 1)[1]).items():
                stages.setdefault(k, []).append(float(v))
    # One timing line per frame the gateway relayed: the idle phase's, then the backlog's.
    for k in ("append_ms", "to_post_ms", "post_ms", "after_ms"):
        if len(stages.get(k, [])) > WARMUP:
            print(summary(f"  gateway stage: {k[:-3]}", stages[k][WARMUP : WARMUP + args.n]))
    figures: dict[str, float] = {
        "p50_ms": round(pct(alarm_ms, 50), 1),
        "p99_ms": round(pct(alarm_ms, 99), 1),
        "ack_p99_ms": round(pct(ack_ms, 99), 1),
        "n": len(alarm_ms),
    }
    if backlog is not None:
        print(
            f"with a heartbeat backlog: {backlog.frames_per_s:.0f} frames/s accepted from "
            f"another gateway (batches of {args.backlog_batch}, "
            f"{heartbeat_backlog.DEVICES} fobs, {backlog.accepted} frames in "
            f"{backlog.elapsed_s:.1f} s; {backlog.limited} batches held back by the monitor's "
            "per-gateway heartbeat cap)"
        )
        print(summary(f"{side.label} -> operator stream (alarm)", alarm_ms_backlog))
        print(summary(f"{side.label} -> ack back to the fob", ack_ms_backlog))
        start = 2 * WARMUP + args.n
        for k in ("append_ms", "to_post_ms", "post_ms", "after_ms"):
            if len(stages.get(k, [])) > start:
                print(summary(f"  gateway stage: {k[:-3]}", stages[k][start : start + args.n]))
        print(
            f"backlog / idle p99: alarm {pct(alarm_ms_backlog, 99) / pct(alarm_ms, 99):.1f}x, "
            f"ack {pct(ack_ms_backlog, 99) / pct(ack_ms, 99):.1f}x"
        )
        figures |= {
            "p99_ms_backlog": round(pct(alarm_ms_backlog, 99), 1),
            "ack_p99_ms_backlog": round(pct(ack_ms_backlog, 99), 1),
            "backlog_frames_per_s": round(backlog.frames_per_s),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
