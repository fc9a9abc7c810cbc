"""In-process fan-out: alarm changes to SSE subscribers, new downlinks to long-polling gateways.

Services run in worker threads; publishing hops onto the event loop thread-safely. Events are
queued on the SQLAlchemy session and only published after its transaction commits, so nobody is
ever shown an alarm that a rollback then removed.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

SUBSCRIBER_QUEUE = 1000  # a console that falls this far behind is dropped and must reconnect


class EventHub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._downlink_changed: asyncio.Condition | None = None
        self._lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._downlink_changed = asyncio.Condition()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(q)

    def _deliver(self, payloads: list[dict[str, Any]], downlinks: bool) -> None:
        for q in list(self._subscribers):
            for p in payloads:
                try:
                    q.put_nowait(p)
                except asyncio.QueueFull:
                    self._subscribers.discard(q)
        if downlinks and self._downlink_changed is not None:
            asyncio.ensure_future(self._notify_downlinks())

    async def _notify_downlinks(self) -> None:
        assert self._downlink_changed is not None
        async with self._downlink_changed:
            self._downlink_changed.notify_all()

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

    def attach(self, maker: sessionmaker[Session]) -> None:
        @event.listens_for(maker, "after_commit")
        def _after_commit(session: Session) -> None:
            payloads = session.info.pop("alarm_events", [])
            downlinks = session.info.pop("downlinks_added", False)
            if payloads or downlinks:
                self.publish(payloads, downlinks)

        @event.listens_for(maker, "after_rollback")
        def _after_rollback(session: Session) -> None:
            session.info.pop("alarm_events", None)
            session.info.pop("downlinks_added", None)


def queue_alarm_event(session: Session, payload: dict[str, Any]) -> None:
    session.info.setdefault("alarm_events", []).append(payload)


def queue_downlink_wakeup(session: Session) -> None:
    session.info["downlinks_added"] = True
