"""A steady heartbeat backlog into a running monitor: the bulk traffic an alarm competes with.

Another gateway (its own token) drains an outbox: batches of valid signed heartbeats from
DEVICES other fobs, packed as the gateway posts them (`POST /v1/frames/binary`), back to back,
each batch as soon as the last is answered, for as long as the backlog is open. It runs in its
own process, so signing and posting do not steal the measuring process's interpreter (its
latencies would grow for reasons of ours, not the monitor's).

    with Backlog(url, *provision(database_url)) as backlog:
        ...  # measure alarms meanwhile
    backlog.frames_per_s  # heartbeats the monitor accepted per second while it ran
"""

from __future__ import annotations

import multiprocessing as mp
import time
from multiprocessing.synchronize import Event
from types import TracebackType
from typing import Any

import httpx

from monitor.core.config import Settings
from monitor.core.crypto import KeyBox
from monitor.core.db import Database
from monitor.services import provisioning
from protocol import frame_types, frames, relay_batch

DEVICES = 500  # fobs behind the other gateway, as in bench/ingest.py
FIRST_DEVICE = 100_000  # clear of the demo's own fobs
BATCH = 1000  # the API's maximum per request (Vigil's own gateway posts up to 500 heartbeats)
HEARTBEAT = (90, 0, 0, 1)  # battery %, flags, outbox depth, uptime in hours
START_TIMEOUT_S = 30.0  # spawning the process and the first batch's answer
POST_TIMEOUT_S = 60.0
PACKED = {"Content-Type": "application/octet-stream"}


def provision(database_url: str, devices: int = DEVICES) -> tuple[str, dict[int, bytes]]:
    """A second gateway and `devices` fobs in a running demo monitor's database, the way an
    admin provisions them. Returns the gateway's token and the fobs' keys."""
    # The master key the demo monitor seals keys with: the same settings from the same
    # environment (`monitor.demo --dev` is environment=development).
    settings = Settings(environment="development", database_url=database_url)
    db = Database(settings.database_url)
    keybox = KeyBox(settings.master_key)
    keys: dict[int, bytes] = {}
    try:
        with db.session() as s:
            _, token = provisioning.create_gateway(s, "bench", "backlog gateway")
            for device_id in range(FIRST_DEVICE, FIRST_DEVICE + devices):
                _, keys[device_id] = provisioning.provision_device(
                    s, keybox, "bench", board="sim", device_id=device_id
                )
    finally:
        db.engine.dispose()
    return token, keys


def _drain(
    url: str,
    token: str,
    keys: dict[int, bytes],
    batch: int,
    flowing: Event,
    failed: Event,
    stop: Event,
    out: mp.Queue[tuple[str, Any]],
) -> None:
    """The other gateway's sender, in the child process: sign a batch, post it, repeat."""
    try:
        devices = list(keys)
        counters = dict.fromkeys(devices, 0)
        accepted, n, t_first, t_last, limited = 0, 0, 0.0, 0.0, 0
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=POST_TIMEOUT_S) as http:
            while not stop.is_set():
                items = []
                for _ in range(batch):
                    dev = devices[n % len(devices)]
                    n += 1
                    counters[dev] += 1
                    raw = frames.encode(
                        frame_types.HEARTBEAT, dev, counters[dev], HEARTBEAT, keys[dev]
                    )
                    items.append((raw, 0, "ble", None, None))
                # Packed, as the gateway and the phone post (POST /v1/frames/binary).
                body = relay_batch.encode_request(items, int(time.time() * 1000))
                t = time.perf_counter()
                r = http.post("/v1/frames/binary", content=body, headers=PACKED)
                while r.status_code == 429 and not stop.is_set():
                    # Over the monitor's per-gateway heartbeat cap: what a gateway does, wait
                    # as told and resend the same batch (bulk_rate.py).
                    limited += 1
                    stop.wait(float(r.headers.get("Retry-After", "1")))
                    r = http.post("/v1/frames/binary", content=body, headers=PACKED)
                if r.status_code == 429:
                    break
                r.raise_for_status()
                t_last = time.perf_counter()
                t_first = t_first or t
                results = relay_batch.decode_reply(r.content, len(items))
                refused = [x for x in results if x[0] != "accepted"]
                if refused:  # a refused frame costs the monitor less: not the backlog we mean
                    raise RuntimeError(f"{len(refused)} of {batch} not accepted: {refused[0]}")
                accepted += len(results)
                flowing.set()
        out.put(("done", (accepted, t_last - t_first, limited)))
    except Exception as e:  # noqa: BLE001 - reported to the parent, which raises it
        out.put(("failed", repr(e)))
        failed.set()
        flowing.set()


class Backlog:
    """The other gateway's backlog, flowing between __enter__ and __exit__."""

    def __init__(self, url: str, token: str, keys: dict[int, bytes], batch: int = BATCH) -> None:
        ctx = mp.get_context("spawn")  # a fresh interpreter: no threads or sockets inherited
        self._flowing, self._failed, self._stop = ctx.Event(), ctx.Event(), ctx.Event()
        self._out: mp.Queue[tuple[str, Any]] = ctx.Queue()
        self._proc = ctx.Process(
            target=_drain,
            args=(url, token, keys, batch, self._flowing, self._failed, self._stop, self._out),
            daemon=True,
        )
        self.accepted = 0
        self.elapsed_s = 0.0
        self.limited = 0  # batches the monitor's per-gateway cap sent back (429)

    @property
    def frames_per_s(self) -> float:
        return self.accepted / self.elapsed_s if self.elapsed_s else 0.0

    def __enter__(self) -> Backlog:
        self._proc.start()
        # Measuring starts once the monitor has answered a first batch: the backlog is flowing.
        if not self._flowing.wait(START_TIMEOUT_S):
            self._halt()
            raise RuntimeError("the backlog's first batch was not answered")
        if self._failed.is_set():
            _, why = self._out.get(timeout=START_TIMEOUT_S)
            self._halt()
            raise RuntimeError(f"the backlog failed: {why}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        try:
            kind, result = self._out.get(timeout=POST_TIMEOUT_S)  # its last batch's answer
        finally:
            self._halt()
        if kind != "done":
            if exc is None:
                raise RuntimeError(f"the backlog failed: {result}")
            return
        self.accepted, self.elapsed_s, self.limited = result

    def _halt(self) -> None:
        self._stop.set()
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
