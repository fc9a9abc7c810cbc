"""Hand-off beyond the console: alarm committed -> SIA DC-09 ACK from an ARC, and -> e-mail.

Real processes: the monitor (`python -m monitor.demo`: uvicorn, SQLite, its scheduler and ARC
forwarder) and pysiaalarm's receiver (devstack/sia_receiver.py, AES-128 unless --plain) on
loopback. The bench configures the ARC in the monitor's database, then posts N signed SOS
frames to the ingest API one at a time, waiting for each to reach the receiver, and reports

  dc09: the alarm's stored_at (set in the transaction, just before its commit) -> the monitor
        reading pysiaalarm's ACK (the forward's acked_at). Both are the monitor's clock, and
        stored_at precedes the commit, so this is an upper bound of committed -> ACK.
  seen: the ingest API answering -> the receiver printing the event (the bench's clock).

  email: the alarm committed -> the message arriving at aiosmtpd, through the scheduler that
        creates and sends deliveries (bench/handoff_email.py), at the service's own tick
        unless --email-tick says otherwise.

BS 8484 allows 30 s from press to ARC; the aim here is under 1 s. Last line is JSON:
{"dc09_p99_ms": .., "email_p99_ms": .., "n": ..}

    .venv/bin/python -m bench.handoff --n 200
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from bench import handoff_email
from devstack.localstack import Demo, free_port, start_monitor
from devstack.sia_receiver import ReceiverProcess
from monitor.core.config import Settings
from monitor.core.db import Database
from monitor.models import Alarm, ArcForward, ArcReceiver
from protocol import frame_types, frames

ACCOUNT = "BE11CE"
KEY = "0123456789ABCDEF"  # AES-128; pysiaalarm takes the key's characters as its bytes
GAP_S = 0.02  # independent alarms, not a burst
WAIT_S = 10.0  # per alarm: anything near this is a failure, not a latency


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def _configure(url: str, port: int, key: str | None) -> None:
    db = Database(url)
    with db.session() as s:
        s.add(
            ArcReceiver(
                name="bench ARC",
                host="127.0.0.1",
                port=port,
                protocol="tcp",
                account=ACCOUNT,
                receiver_number="1",
                line_number="1",
                aes_key_hex=key.encode().hex() if key else None,
                null_interval_s=0,  # the bench measures alarms, not supervision
                enabled=True,
                next_sequence=1,
            )
        )
    db.engine.dispose()


def _acked(url: str) -> list[float]:
    db = Database(url)
    with db.session() as s:
        rows = s.execute(
            select(Alarm.stored_at, ArcForward.acked_at, ArcForward.attempts)
            .join(ArcForward, ArcForward.alarm_id == Alarm.id)
            .order_by(Alarm.id)
        ).all()
    db.engine.dispose()
    missing = [r for r in rows if r.acked_at is None]
    if missing:
        raise RuntimeError(f"{len(missing)} forwards never acknowledged")
    return [(r.acked_at - r.stored_at) / dt.timedelta(milliseconds=1) for r in rows]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.handoff", description=__doc__)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--plain", action="store_true", help="no AES (default AES-128)")
    p.add_argument(
        "--email-tick",
        type=float,
        default=Settings.model_fields["scheduler_tick_s"].default,
        help="scheduler tick for the e-mail run (default: the service's own)",
    )
    args = p.parse_args(argv)
    if args.n < 1:
        raise SystemExit("--n must be at least 1")
    key = None if args.plain else KEY
    demo = Demo.load()
    with (
        tempfile.TemporaryDirectory(prefix="vigil-handoff-") as tmp,
        ReceiverProcess(ACCOUNT, key) as arc,
    ):
        work = Path(tmp)
        port = free_port()
        monitor = start_monitor(work, port)
        url = f"sqlite:///{work / 'monitor.sqlite3'}"
        try:
            _configure(url, arc.port, key)
            seen: list[float] = []
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {demo.gateway_token}"},
                timeout=WAIT_S,
            ) as client:
                for i in range(args.n):
                    frame = frames.encode(
                        frame_types.SOS, demo.device_id, 1000 + i, (80, 0, 0), demo.device_key
                    )
                    item = {
                        "frame": frame.hex(),
                        "received_at": dt.datetime.now(dt.UTC).isoformat(),
                        "link": "serial",
                        "rssi": None,
                        "location": {"lat": 51.4994, "lon": -0.1248},
                    }
                    r = client.post("/v1/frames", json={"frames": [item]})
                    r.raise_for_status()
                    answered = time.perf_counter()
                    if len(arc.wait_for(i + 1, WAIT_S)) < i + 1:
                        raise RuntimeError(f"alarm {i} did not reach the receiver in {WAIT_S} s")
                    seen.append((time.perf_counter() - answered) * 1000)
                    time.sleep(GAP_S)
            time.sleep(0.5)  # a doubled forward would arrive by now
            events = arc.alarms()
            dc09_ms = _acked(url)
        finally:
            monitor.stop()
    sequences = [e["sequence"] for e in events]
    if len(events) != args.n or len(set(sequences)) != args.n:
        raise SystemExit(f"{len(events)} events for {args.n} alarms: not exactly once each")
    mode = "plain" if args.plain else "AES-128"
    print(f"DC-09 over TCP to pysiaalarm ({mode}), {args.n} SOS alarms, each exactly once")
    print(
        f"  committed -> ARC ACK   p50 {pct(dc09_ms, 50):7.1f} ms   p99 {pct(dc09_ms, 99):7.1f} ms"
        f"   max {max(dc09_ms):7.1f} ms"
    )
    print(
        f"  API answer -> ARC saw  p50 {pct(seen, 50):7.1f} ms   p99 {pct(seen, 99):7.1f} ms"
        f"   max {max(seen):7.1f} ms"
    )
    # E-mail: alarm committed -> message received by aiosmtpd (bench/handoff_email.py); bound
    # by the scheduler tick that creates and sends deliveries.
    with tempfile.TemporaryDirectory(prefix="vigil-handoff-email-") as tmp:
        email = handoff_email.run(args.n, args.email_tick, Path(tmp))
    print(f"E-mail over SMTP to aiosmtpd, {args.n} alarms, scheduler tick {args.email_tick} s")
    print(
        f"  committed -> received  p50 {email['email_p50_ms']:7.1f} ms   p99 "
        f"{email['email_p99_ms']:7.1f} ms   max {email['email_max_ms']:7.1f} ms"
    )
    figures = {
        "dc09_p99_ms": round(pct(dc09_ms, 99), 1),
        "email_p99_ms": email["email_p99_ms"],
        "n": args.n,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
