"""Hand-off to e-mail: alarm committed -> the escalation e-mail received by an SMTP server.

A monitor app on a SQLite file with its real scheduler running (the FastAPI lifespan, as in
service), a worker whose first contact is e-mail with no delay, and a real SMTP server on
loopback (aiosmtpd, devstack/smtp_sink.py). For each of N SOS frames, posted one at a time to
the ingest API, it measures

  email: ingest's response returned (the alarm is committed before it is sent)
         -> the DATA command completed at the SMTP server

so the figure includes waiting for the next scheduler tick (--tick, VIGIL_SCHEDULER_TICK_S;
2 s in service by default), the escalation query, the message build and the SMTP exchange.
Last line is JSON: {"email_p99_ms": .., "email_p50_ms": .., "n": .., "tick_s": ..}

    .venv/bin/python -m bench.handoff_email --n 100
    .venv/bin/python -m bench.handoff_email --n 100 --tick 2.0   # the service default
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from devstack.smtp_sink import SmtpSink
from monitor.api.main import create_app
from monitor.core.config import Settings
from monitor.models import Contact
from monitor.seed import seed
from protocol import frame_types, frames

DEVICE_ID = 7
DEVICE_KEY = bytes(range(100, 116))  # a bench-only fob key, in a throwaway database
GATEWAY_TOKEN = "vgw_bench_gateway_token"
WAIT_S = 30.0  # per alarm; anything near this is a failure, not a latency


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def run(n: int, tick_s: float, work: Path) -> dict[str, float]:
    sink = SmtpSink().start()
    settings = Settings(
        environment="development",
        database_url=f"sqlite:///{work / 'monitor.sqlite3'}",
        scheduler_tick_s=tick_s,
        smtp_host=sink.host,
        smtp_port=sink.port,
        smtp_security="none",
        smtp_from="vigil@bench.invalid",
    )
    app = create_app(settings)
    seeded = seed(
        app.state.db,
        app.state.keybox,
        admin_password="bench-admin-password",
        operator_password="bench-operator-password",
        device_id=DEVICE_ID,
        device_key=DEVICE_KEY,
        gateway_token=GATEWAY_TOKEN,
    )
    with app.state.db.session() as s:
        s.add(
            Contact(
                worker_id=seeded.worker_id,
                position=0,
                name="Bench lead",
                channel="email",
                address="lead@bench.invalid",
                delay_s=0,
            )
        )
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {GATEWAY_TOKEN}"}
    try:
        with TestClient(app) as client:
            for i in range(n):
                frame = frames.encode(frame_types.SOS, DEVICE_ID, i + 1, (80, 0, 0), DEVICE_KEY)
                item = {
                    "frame": frame.hex(),
                    "received_at": dt.datetime.now(dt.UTC).isoformat(),
                    "link": "usb",
                    "rssi": None,
                    "location": {"lat": 51.5, "lon": -0.12, "accuracy_m": 10.0},
                }
                r = client.post("/v1/frames", json={"frames": [item]}, headers=headers)
                committed = time.time()
                r.raise_for_status()
                got = sink.wait_for(i + 1, WAIT_S)[-1]
                latencies.append((got.at - committed) * 1000)
                # Spread arrivals evenly over the whole tick, as real alarms fall: posting
                # right after a delivery would always land just after a tick began.
                time.sleep((i * 0.618034 % 1.0) * tick_s)
    finally:
        sink.stop()
        app.state.db.engine.dispose()
    return {
        "email_p50_ms": round(pct(latencies, 50), 1),
        "email_p99_ms": round(pct(latencies, 99), 1),
        "email_max_ms": round(max(latencies), 1),
        "n": n,
        "tick_s": tick_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--tick", type=float, default=0.25, help="scheduler tick in seconds")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-handoff-email-") as d:
        result = run(args.n, args.tick, Path(d))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
