"""Where one ingest batch's time goes, stage by stage, in-process (no HTTP), on SQLite.

Batches of 1,000 packed frames from 500 fobs go through `ingest_packed` as a relay's would;
each stage's function is wrapped with a timer for the measured batches (the wrappers cost a
little themselves: the total without them is printed too). Two mixes: heartbeats only, and
1 % SOS as bench/ingest.py posts. The HTTP layer's share is what bench/ingest.py adds on top.

Last line JSON: {"us_per_frame_heartbeats", "us_per_frame_with_sos", "stages_us_per_frame"}
Run: .venv/bin/python -m bench.ingest_stages
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from bench.ingest import MASTER, prepare
from monitor.core.crypto import KeyBox
from monitor.core.db import Database
from monitor.services.ingest import pipeline, signing
from protocol import frame_types as ft
from protocol import frames, relay_batch

BATCH = 1000
FOBS = 500
MEASURED = 20
# (module, function name, stage): every call to it is timed under the stage's name.
STAGES = [
    (pipeline, "parse_packed", "parse the packed body"),
    (pipeline, "lock_devices", "read the devices' rows"),
    (pipeline, "known_frames", "read frames already stored (dedupe)"),
    (signing, "verify", "verify tags"),
    (pipeline, "downlink_ack", "sign ACKs"),
    (pipeline, "update_hot", "update device state in memory"),
    (pipeline, "store", "write device rows and frame records"),
    (pipeline, "act", "act on alarms (ORM)"),
    (pipeline, "count_rejections", "count rejections"),
]


def bodies(keys: dict[int, bytes], sos_every: int, n: int) -> list[bytes]:
    fobs = list(keys)[:FOBS]
    counters = dict.fromkeys(fobs, 0)
    out = []
    for _ in range(n):
        items = []
        for i in range(BATCH):
            dev = fobs[i % FOBS]
            counters[dev] += 1
            sos = sos_every and i % sos_every == sos_every - 1
            ftype, fields = (ft.SOS, (80, 0, 0)) if sos else (ft.HEARTBEAT, (90, 0, 0, 1))
            raw = frames.encode(ftype, dev, counters[dev], fields, keys[dev])
            items.append((raw, 0, "ble", -60, None))
        out.append(relay_batch.encode_request(items, int(time.time() * 1000)))
    return out


def timed(spent: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - t

    return wrapper


def measure(sos_every: int) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/stages.db"
        keys = prepare(url)
        db, keybox = Database(url), KeyBox(MASTER)
        batches = bodies(keys, sos_every, 5 + 2 * MEASURED)

        def post(body: bytes) -> None:
            with db.session() as s:
                pipeline.ingest_packed(s, keybox, body, 1)

        for b in batches[:5]:  # warm: keys opened, statements compiled
            post(b)
        t = time.perf_counter()
        for b in batches[5 : 5 + MEASURED]:
            post(b)
        plain = (time.perf_counter() - t) / (MEASURED * BATCH) * 1e6
        spent: dict[str, float] = defaultdict(float)
        saved = [(m, n, getattr(m, n)) for m, n, _ in STAGES]
        real_commit = Session.commit
        try:
            for m, n, stage in STAGES:
                setattr(m, n, timed(spent, stage, getattr(m, n)))
            Session.commit = timed(spent, "commit", real_commit)  # type: ignore[method-assign]
            t = time.perf_counter()
            for b in batches[5 + MEASURED :]:
                post(b)
            total = time.perf_counter() - t
        finally:
            for m, n, fn in saved:
                setattr(m, n, fn)
            Session.commit = real_commit  # type: ignore[method-assign]
        db.engine.dispose()
    per_frame = {k: v / (MEASURED * BATCH) * 1e6 for k, v in spent.items()}
    per_frame["the rest: loop, replay windows, rows, results"] = total / (
        MEASURED * BATCH
    ) * 1e6 - sum(per_frame.values())
    return plain, per_frame


def main() -> None:
    results = {}
    for label, every in (("heartbeats only", 0), ("1 % SOS", 100)):
        plain, stages = measure(every)
        results[label] = (plain, stages)
        print(f"{label}: {plain:.1f} us a frame ({1e6 / plain:,.0f} frames/s in-process)")
        for stage, us in sorted(stages.items(), key=lambda kv: -kv[1]):
            print(f"  {us:6.2f} us  {stage}")
    print(
        json.dumps(
            {
                "us_per_frame_heartbeats": round(results["heartbeats only"][0], 1),
                "us_per_frame_with_sos": round(results["1 % SOS"][0], 1),
                "stages_us_per_frame": {k: round(v, 2) for k, v in results["1 % SOS"][1].items()},
            }
        )
    )


if __name__ == "__main__":
    main()
