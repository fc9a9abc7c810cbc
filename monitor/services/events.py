"""Fan-out of alarm changes to SSE subscribers and of new downlinks to long-polling gateways.

Services run in worker threads; publishing hops onto the event loop thread-safely. Events are
queued on the SQLAlchemy session and only published after its transaction commits, so nobody is
ever shown an alarm that a rollback then removed.

One instance (SQLite): delivery is in-process, after commit. Several instances on one PostgreSQL:
each change is sent with NOTIFY inside the transaction that makes it (PostgreSQL delivers it only
on commit, so the same rule holds), and every instance, this one included, LISTENs on a
connection of its own and delivers what arrives to its local subscribers. An alarm ingested on
instance A therefore reaches an operator streaming from instance B, and a downlink queued on A
wakes a gateway long-polling B.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import psycopg
from sqlalchemy import event, text
from sqlalchemy.orm import Session, sessionmaker

from monitor.core import jsonsafe
from monitor.errors import ListenerUnavailable, RateLimited

log = logging.getLogger("vigil.events")

SUBSCRIBER_QUEUE = 1000  # a console that falls this far behind is dropped and must reconnect
STREAM_RETRY_S = 5  # Retry-After for a user over their stream cap: a closed tab frees one at once
ALARM_CHANNEL = "vigil_alarm"
DOWNLINK_CHANNEL = "vigil_downlink"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; a bigger alarm (long notes) is sent
# as its id and every listener loads it from the database.
NOTIFY_MAX_BYTES = 7900
LISTEN_CONNECT_TIMEOUT_S = 10.0  # first LISTEN at start-up; the instance refuses to start without
LISTEN_RETRY_S = (0.2, 0.5, 1.0, 2.0)  # reconnect backoff: a database restart takes seconds

# An item on a subscriber queue: an alarm payload, or None meaning "you missed events: reconnect
# and resync" (the console resyncs its queue after every stream (re)connect).
StreamItem = dict[str, Any] | None
AlarmLoader = Callable[[int], Awaitable[dict[str, Any] | None]]


class EventHub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[asyncio.Queue[StreamItem]] = set()
        # Which session or API token each stream was opened with, so revoking one can end its
        # streams on this instance at once (other instances find out at their next re-check).
        self._credential: dict[asyncio.Queue[StreamItem], int | None] = {}
        # Whose each stream is, to cap how many one user holds (`subscribe`'s limit).
        self._owner: dict[asyncio.Queue[StreamItem], int | None] = {}
        self._downlink_changed: asyncio.Condition | None = None
        self._polls: dict[int, int] = {}  # gateway id -> downlink long polls it holds open here
        self._via_postgres = False
        self._listener: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._downlink_changed = asyncio.Condition()

    def subscribe(
        self, credential: int | None = None, user_id: int | None = None, limit: int | None = None
    ) -> asyncio.Queue[StreamItem]:
        """A stream's queue. With `limit`, refuses (RateLimited) a user who already holds that
        many streams here."""
        if limit is not None and user_id is not None:
            held = sum(1 for owner in self._owner.values() if owner == user_id)
            if held >= limit:
                raise RateLimited(
                    f"this account already has {held} alarm streams open on this monitor (at "
                    f"most {limit}): close other console tabs or scripts, then reload",
                    retry_after_s=STREAM_RETRY_S,
                )
        q: asyncio.Queue[StreamItem] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.add(q)
        self._credential[q] = credential
        self._owner[q] = user_id
        return q

    def unsubscribe(self, q: asyncio.Queue[StreamItem]) -> None:
        self._subscribers.discard(q)
        self._credential.pop(q, None)
        self._owner.pop(q, None)

    def _end_credentials(self, ended: set[int]) -> None:
        # The stream re-checks its credential when it is dropped, finds it gone and says `end`.
        for q in [q for q, c in self._credential.items() if c in ended]:
            self._drop(q)

    def _drop(self, q: asyncio.Queue[StreamItem]) -> None:
        # Tell the stream to end rather than leave it open and silently missing alarms.
        self._subscribers.discard(q)
        while not q.empty():
            q.get_nowait()
        q.put_nowait(None)

    def drop_all(self) -> None:
        for q in list(self._subscribers):
            self._drop(q)

    def _deliver(self, payloads: list[dict[str, Any]], downlinks: bool) -> None:
        for q in list(self._subscribers):
            for p in payloads:
                try:
                    q.put_nowait(p)
                except asyncio.QueueFull:
                    self._drop(q)
                    break
        if downlinks and self._downlink_changed is not None:
            asyncio.ensure_future(self._notify_downlinks())

    async def _notify_downlinks(self) -> None:
        assert self._downlink_changed is not None
        async with self._downlink_changed:
            self._downlink_changed.notify_all()

    @contextlib.contextmanager
    def long_poll(self, gateway_id: int, limit: int) -> Iterator[None]:
        """One of a gateway's downlink long polls; RateLimited past `limit` on this instance (a
        relay holds one; thousands held open by a leaked token would starve everyone's)."""
        held = self._polls.get(gateway_id, 0)
        if held >= limit:
            raise RateLimited(
                f"this gateway already holds {held} downlink polls open on this monitor (at "
                f"most {limit}): one per relay is enough",
                retry_after_s=STREAM_RETRY_S,
            )
        self._polls[gateway_id] = held + 1
        try:
            yield
        finally:
            left = self._polls[gateway_id] - 1
            if left:
                self._polls[gateway_id] = left
            else:
                del self._polls[gateway_id]

    async def wait_downlinks(self, timeout: float) -> None:
        if self._downlink_changed is None:
            await asyncio.sleep(timeout)
            return
        async with self._downlink_changed:
            try:
                await asyncio.wait_for(self._downlink_changed.wait(), timeout)
            except TimeoutError:
                pass

    def publish(self, payloads: list[dict[str, Any]], downlinks: bool) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(payloads, downlinks)
        else:
            loop.call_soon_threadsafe(self._deliver, payloads, downlinks)

    def attach(self, maker: sessionmaker[Session], via_postgres: bool = False) -> None:
        self._via_postgres = via_postgres

        @event.listens_for(maker, "before_commit")
        def _before_commit(session: Session) -> None:
            if not self._via_postgres:
                return
            payloads = session.info.pop("alarm_events", [])
            downlinks = session.info.pop("downlinks_added", False)
            for p in payloads:
                data = jsonsafe.dumps(p, separators=(",", ":"))
                if len(data.encode()) > NOTIFY_MAX_BYTES:
                    data = json.dumps({"id": p["id"], "reload": True})
                session.execute(text("SELECT pg_notify(:c, :d)"), {"c": ALARM_CHANNEL, "d": data})
            if downlinks:
                session.execute(text("SELECT pg_notify(:c, '')"), {"c": DOWNLINK_CHANNEL})

        @event.listens_for(maker, "after_commit")
        def _after_commit(session: Session) -> None:
            payloads = session.info.pop("alarm_events", [])
            downlinks = session.info.pop("downlinks_added", False)
            if payloads or downlinks:
                self.publish(payloads, downlinks)
            ended = session.info.pop("credentials_ended", None)
            loop = self._loop
            if ended and loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._end_credentials, set(ended))

        @event.listens_for(maker, "after_rollback")
        def _after_rollback(session: Session) -> None:
            session.info.pop("alarm_events", None)
            session.info.pop("downlinks_added", None)
            session.info.pop("credentials_ended", None)

    async def start_listening(self, dsn: str, load_alarm: AlarmLoader) -> None:
        """LISTEN on PostgreSQL; returns once the first LISTEN is in place."""
        self._listener = asyncio.create_task(self._listen(dsn, load_alarm))
        try:
            await asyncio.wait_for(self.listening.wait(), LISTEN_CONNECT_TIMEOUT_S)
        except TimeoutError as e:
            self._listener.cancel()
            raise ListenerUnavailable(
                f"could not LISTEN on PostgreSQL within {LISTEN_CONNECT_TIMEOUT_S:.0f} s; "
                "check VIGIL_DATABASE_URL and that the server accepts connections"
            ) from e

    async def stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except asyncio.CancelledError:
                pass

    async def _listen(self, dsn: str, load_alarm: AlarmLoader) -> None:
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {ALARM_CHANNEL}")
                    await conn.execute(f"LISTEN {DOWNLINK_CHANNEL}")
                    if self.listening.is_set():
                        # Notifications sent while we were away are gone: make every stream
                        # reconnect and resync, and every long poll look again.
                        self.drop_all()
                        self._deliver([], True)
                    self.listening.set()
                    failures = 0
                    async for n in conn.notifies():
                        await self._on_notify(n.channel, n.payload, load_alarm)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the listener must outlive database restarts
                delay = LISTEN_RETRY_S[min(failures, len(LISTEN_RETRY_S) - 1)]
                failures += 1
                log.warning("event listener lost PostgreSQL (%s); retrying in %.1f s", e, delay)
                await asyncio.sleep(delay)

    async def _on_notify(self, channel: str, data: str, load_alarm: AlarmLoader) -> None:
        if channel == DOWNLINK_CHANNEL:
            self._deliver([], True)
            return
        payload: dict[str, Any] | None = json.loads(data)
        if payload is not None and payload.get("reload"):
            payload = await load_alarm(int(payload["id"]))
        if payload is not None:
            self._deliver([payload], False)


def queue_alarm_event(session: Session, payload: dict[str, Any]) -> None:
    session.info.setdefault("alarm_events", []).append(payload)


def queue_downlink_wakeup(session: Session) -> None:
    session.info["downlinks_added"] = True


def queue_credentials_ended(session: Session, token_ids: list[int]) -> None:
    """Once this transaction commits, end this instance's streams opened with these sessions or
    API tokens (logout, revocation, password change or reset)."""
    session.info.setdefault("credentials_ended", set()).update(token_ids)
