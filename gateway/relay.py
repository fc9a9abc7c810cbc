"""The relay: fob frames -> durable queue -> monitor; monitor acks and commands -> the right fob.

The order of events for one uplink frame:
  1. a transport hands over the bytes; we only `peek` (the gateway holds no keys),
  2. the frame is committed to the SQLite queue (nothing else happens before this),
  3. a sender posts queued frames in a batch, at once if it is idle: alarms, cancels and
     check-ins on the urgent lane, heartbeats on the bulk lane. The lanes run side by side on
     their own connections, so an alarm never waits for a heartbeat batch in flight,
  4. for each answered frame: delete it, and write the monitor's signed ack to the link it came on.
Until step 4 a crash or an unreachable monitor costs time, never the frame.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.errors import MonitorLinkError, MonitorRefused, QueueError, TransportError
from gateway.monitor_client import DownlinkItem, MonitorClient
from gateway.queue import BULK, BULK_PRIORITY, URGENT, FrameQueue, QueuedFrame, frame_priority
from gateway.transport import FobLink, Transport
from protocol import frame_types, frames
from protocol.errors import ProtocolError, WrongDirection

log = logging.getLogger("vigil.gateway.relay")
TIMING = logging.getLogger("vigil.gateway.timing")  # DEBUG: per-frame stage times

VERSION = "0.1.0"
BATCH_MAX = 64  # urgent frames per POST: a fob's full outbox after range loss fits in one or two
# Heartbeats per POST: a relay back from an outage drains its backlog in big packed batches
# (the monitor takes up to 1,000), while its alarms go past on the urgent lane.
BULK_BATCH_MAX = 500
BACKOFF_CAP_S = 10.0  # longest wait between retries: a monitor back up must not wait on us long
SEND_TIMEOUT_S = 3.0  # writing one frame to a fob; a stuck link must not hold up the others
HEALTH_INTERVAL_S = 30.0  # the monitor marks a gateway silent after a few missed reports
DOWNLINK_RETRY_S = 1.0  # after a failed long poll, before the next one (grows with failures)
PENDING_DOWNLINK_MAX = 16  # per fob not currently connected: enough for help + resolved + commands
PENDING_DOWNLINK_TTL_S = 15 * 60.0  # an ACK_HELP older than this would mislead the worker
CURSOR_KEY = "downlink_cursor"
AUTH_STATUSES = (401, 403)
RESTART_S = 5.0  # before restarting a failed part (transport, sender...): not a busy loop
# Frames that may carry the gateway's location: alarms and check-ins only, never heartbeats,
# so the system cannot become continuous tracking.
LOCATED_TYPES = frozenset(frame_types.ALARMS) | {
    frame_types.CHECKIN_START,
    frame_types.CHECKIN_STOP,
}


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Relay:
    def __init__(
        self,
        queue: FrameQueue,
        client: MonitorClient,
        transports: Sequence[Transport] = (),
        *,
        location: dict[str, float] | None = None,
        health_interval: float = HEALTH_INTERVAL_S,
    ) -> None:
        self.queue = queue
        self.client = client
        self.transports = list(transports)
        self.location = location
        self.health_interval = health_interval
        self.counters: Counter[str] = Counter()
        self._wake = {URGENT: asyncio.Event(), BULK: asyncio.Event()}
        self._origin: dict[bytes, FobLink] = {}  # frame bytes -> the link it arrived on
        self._by_device: dict[int, FobLink] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._arrived: dict[bytes, tuple[float, float]] = {}  # only while timing is logged

    # -- transports call these ---------------------------------------------------------------

    def frame_received(self, data: bytes, link: FobLink, rssi: int | None = None) -> None:
        data = bytes(data)
        try:
            ftype, device_id, _counter = frames.peek(data)
        except ProtocolError as e:
            self._bad(e.reason, f"{len(data)} bytes from {link.port}: {e}")
            return
        if frame_types.direction(ftype) != frame_types.UPLINK:
            self._bad(
                WrongDirection.reason, f"a non-uplink frame (type 0x{ftype:02x}) from {link.port}"
            )
            return
        location = self.location if ftype in LOCATED_TYPES else None
        t_in = time.perf_counter()
        try:
            self.queue.append(
                data,
                received_at=utc_now(),
                link=link.kind,
                port=link.port,
                rssi=rssi,
                location=location,
            )
        except QueueError:
            # No ack will reach the fob, so it keeps the frame in its outbox and resends.
            self.counters["queue_error"] += 1
            log.exception("could not queue a frame from device %d", device_id)
            return
        self.counters["frames_in"] += 1
        self._origin[data] = link
        if TIMING.isEnabledFor(logging.DEBUG):
            self._arrived[data] = (t_in, time.perf_counter())
        self._wake[BULK if frame_priority(data) >= BULK_PRIORITY else URGENT].set()

    def _bad(self, reason: str, what: str) -> None:
        key = f"bad_frame.{reason}"
        self.counters[key] += 1
        n = self.counters[key]
        if n & (n - 1) == 0:  # 1st, 2nd, 4th, 8th...: a noisy line cannot flood the log
            log.warning("dropped %s (%d so far)", what, n)

    def link_up(self, link: FobLink) -> None:
        self.counters["link_up"] += 1
        log.info("link up: %s %s", link.kind, link.port)

    def link_down(self, link: FobLink) -> None:
        self.counters["link_down"] += 1
        log.info("link down: %s %s", link.kind, link.port)
        for dev, bound in list(self._by_device.items()):
            if bound is link:
                del self._by_device[dev]
        for frame, origin in list(self._origin.items()):
            if origin is link:
                del self._origin[frame]

    # -- running -----------------------------------------------------------------------------

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for t in self.transports:
                tg.create_task(self._supervise(type(t).__name__, functools.partial(t.run, self)))
            for lane in (URGENT, BULK):
                sender = functools.partial(self._sender, lane)
                tg.create_task(self._supervise(f"sender.{lane}", sender))
            tg.create_task(self._supervise("downlink", self._downlink))
            tg.create_task(self._supervise("health", self._health))

    async def _supervise(self, name: str, start: Callable[[], Awaitable[None]]) -> None:
        # A bug or a missing Bluetooth adapter in one part must not stop the others: serial
        # fobs keep relaying while BLE restarts.
        while True:
            try:
                await start()
            except Exception:
                self.counters[f"restart.{name}"] += 1
                log.exception("%s failed; restarting in %.0f s", name, RESTART_S)
            await asyncio.sleep(RESTART_S)

    def links(self) -> list[FobLink]:
        return [link for t in self.transports for link in t.links()]

    async def _sender(self, lane: str) -> None:
        failures = 0
        last_kind: type[MonitorLinkError] | None = None
        wake = self._wake[lane]
        wake.set()  # frames left from before a restart go first
        most = BATCH_MAX if lane == URGENT else BULK_BATCH_MAX
        while True:
            await wake.wait()
            wake.clear()
            limit = most
            while batch := self.queue.batch(limit, lane):
                try:
                    await self._send(batch)
                    failures, last_kind, limit = 0, None, most
                except MonitorRefused as e:
                    if e.status in AUTH_STATUSES or batch[0].held:
                        await self._backoff(e, batch, failures := failures + 1)
                    elif len(batch) > 1:
                        # The monitor refused the request itself (it answers bad frames one by
                        # one, so this is a frame it cannot even parse): find it by sending
                        # frames singly, so the others are not held up behind it.
                        limit = 1
                    else:
                        # Kept (only an answer deletes a frame) but moved behind everything
                        # else, and retried at the refused pace.
                        self.queue.hold(batch[0].id)  # now on the bulk lane, whatever it is
                        self._wake[BULK].set()
                        self.counters["held_frame"] += 1
                        log.error(
                            "monitor refuses frame %s; held back: %s", batch[0].frame.hex(), e
                        )
                except MonitorLinkError as e:
                    # Backoff grows only while the same kind of failure repeats.
                    failures = failures + 1 if type(e) is last_kind else 1
                    last_kind = type(e)
                    await self._backoff(e, batch, failures)

    async def _backoff(self, e: MonitorLinkError, batch: list[QueuedFrame], failures: int) -> None:
        self.counters[f"send_failure.{type(e).__name__}"] += 1
        delay = min(BACKOFF_CAP_S, e.retry_after * 2 ** min(failures - 1, 8))
        level = logging.ERROR if isinstance(e, MonitorRefused) else logging.WARNING
        log.log(level, "%d frames queued, retry in %.1f s: %s", len(batch), delay, e)
        # A newly arrived frame does not cut the backoff short: the monitor is just as down.
        await asyncio.sleep(delay)

    async def _send(self, batch: list[QueuedFrame]) -> None:
        self.queue.mark_attempted(q.id for q in batch)
        t_post = time.perf_counter()
        results = await self.client.post_frames([q.as_wire() for q in batch])
        t_answer = time.perf_counter()
        done: list[int] = []
        for q, r in zip(batch, results, strict=True):
            if r.status == "unknown":
                self.counters["unanswered"] += 1
                continue
            done.append(q.id)
            self.counters[f"result.{r.status}"] += 1
            origin = self._origin.pop(q.frame, None)
            if r.status == "rejected":
                log.warning("monitor rejected a frame from %s: %s", q.port, r.reason)
                continue
            if origin is not None and r.device_id is not None:
                self._bind(r.device_id, origin)
            if r.ack is not None:
                target = origin if origin is not None and origin.connected else None
                if target is None and r.device_id is not None:
                    target = self._by_device.get(r.device_id)
                if target is not None:
                    self._spawn(self._deliver(target, r.ack, "ack"))
                # else: the fob is gone; it resends from its outbox and gets a fresh ack then.
        self.queue.remove(done)
        if TIMING.isEnabledFor(logging.DEBUG):
            self._log_timing(batch, t_post, t_answer)

    def _log_timing(self, batch: list[QueuedFrame], t_post: float, t_answer: float) -> None:
        # Where one batch's time went, in ms; bench/alarm_latency.py reads these lines.
        for q in batch:
            t_in, t_queued = self._arrived.pop(q.frame, (t_post, t_post))
            TIMING.debug(
                "timing %s",
                json.dumps(
                    {
                        "batch": len(batch),
                        "append_ms": round((t_queued - t_in) * 1000, 3),
                        "to_post_ms": round((t_post - t_queued) * 1000, 3),
                        "post_ms": round((t_answer - t_post) * 1000, 3),
                        "after_ms": round((time.perf_counter() - t_answer) * 1000, 3),
                    }
                ),
            )

    def _bind(self, device_id: int, link: FobLink) -> None:
        if self._by_device.get(device_id) is not link:
            self._by_device[device_id] = link
            link.device_id = device_id
            # Held in the queue file, so a gateway restart does not lose an ACK_HELP.
            since = time.time() - PENDING_DOWNLINK_TTL_S
            for frame in self.queue.take_downlinks(device_id, since):
                self._spawn(self._deliver(link, frame, "downlink"))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, link: FobLink, frame: bytes, what: str) -> None:
        try:
            await asyncio.wait_for(link.send(frame), SEND_TIMEOUT_S)
            self.counters[f"{what}_delivered"] += 1
        except (TransportError, TimeoutError, OSError) as e:
            self.counters[f"{what}_undelivered"] += 1
            log.warning("could not deliver %s to %s: %s", what, link.port, e)

    async def _downlink(self) -> None:
        cursor = int(self.queue.get_state(CURSOR_KEY) or 0)
        failures = 0
        while True:
            try:
                items, cursor = await self.client.downlink(cursor)
                failures = 0
            except MonitorLinkError as e:
                failures += 1
                await asyncio.sleep(min(BACKOFF_CAP_S, DOWNLINK_RETRY_S * 2 ** min(failures, 5)))
                log.debug("downlink poll failed: %s", e)
                continue
            for item in items:
                self._route_downlink(item)
            self.queue.set_state(CURSOR_KEY, str(cursor))

    def _route_downlink(self, item: DownlinkItem) -> None:
        if item.age_s > PENDING_DOWNLINK_TTL_S:
            # The monitor serves none this old; one that does (an older version) is not obeyed.
            self.counters["downlink_expired"] += 1
            return
        link = self._by_device.get(item.device_id)
        if link is not None and link.connected:
            self._spawn(self._deliver(link, item.frame, "downlink"))
            return
        # Aged from when the monitor queued it, not from when we polled it: the limit is the
        # same 15 minutes end to end.
        at = time.time() - item.age_s
        self.queue.hold_downlink(item.device_id, item.frame, at, PENDING_DOWNLINK_MAX)
        self.counters["downlink_pending"] += 1

    async def _health(self) -> None:
        logged: Counter[str] = Counter()
        while True:
            if self.counters != logged:
                # One line per interval with anything new: what an installer greps for first.
                log.info("counters: %s", dict(sorted(self.counters.items())))
                logged = Counter(self.counters)
            try:
                await self.client.health(
                    [link.status() for link in self.links()], self.queue.depth(), VERSION
                )
            except MonitorLinkError as e:
                log.debug("health report failed: %s", e)
            await asyncio.sleep(self.health_interval)
