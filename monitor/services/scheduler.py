"""The in-service scheduler: supervision and escalation every tick, in a worker thread.

With several instances on one PostgreSQL exactly one of them supervises and escalates: the one
holding a session-level advisory lock on a connection it keeps open. The others try for the lock
every tick. If the leader dies (crash, kill -9, network cut) PostgreSQL ends its session and frees
the lock, and the next tick anywhere takes over; if the leader loses its own connection it stops
leading at once rather than risk two leaders. SQLite has one instance, always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import Connection, text
from starlette.concurrency import run_in_threadpool

from monitor.core import urgency
from monitor.core.config import Settings
from monitor.core.crypto import KeyBox
from monitor.core.db import Database
from monitor.services import arc_forwarding, escalation, jobs, responder_links, supervision

log = logging.getLogger("vigil.scheduler")
WOKEN_GAP_S = 0.2  # the closest two ticks come when alarms keep arriving

# Any fixed 64-bit number, the same on every instance: "the Vigil scheduler" (as a signed bigint).
ADVISORY_LOCK_KEY = 0x5647_494C_5343_4844 - (1 << 63)


class Leadership:
    """Holds (or tries for) the scheduler lock on a dedicated connection."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn: Connection | None = None

    @property
    def held(self) -> bool:
        return self._db.is_sqlite or self._conn is not None

    def check(self) -> bool:
        """True when this instance leads now: keeps, verifies or tries to take the lock."""
        if self._db.is_sqlite:
            return True
        if self._conn is not None:
            try:
                # Our session still exists, so PostgreSQL still holds the lock for us.
                self._conn.execute(text("SELECT 1"))
                return True
            except Exception:  # noqa: BLE001 - any failure means the lock may be gone
                log.warning("scheduler lost its database session; no longer leading")
                self._discard()
                return False
        conn = self._db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(
                conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
            )
        except Exception:
            conn.invalidate()
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        log.info("scheduler leadership acquired")
        self._conn = conn
        return True

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Never return this connection to the pool: if it were somehow alive it would
            # still hold the lock.
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: BLE001 - closing a dead connection may itself fail
                pass

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            except Exception:  # noqa: BLE001 - the session ending frees the lock anyway
                pass
            self._discard()


def tick(
    db: Database,
    settings: Settings,
    notifier: escalation.Notifier,
    lead: Leadership,
    keybox: KeyBox | None = None,
) -> bool:
    """One round of supervision, visit reminders and escalation; False when another instance
    leads."""
    urgency.gate.step_aside()  # an alarm being received goes first (urgency.py)
    if not lead.check():
        return False
    # Independent jobs: supervision failing (say, the database refusing one write) must not
    # stop escalation of the alarms already open, nor the reverse; a reminder that cannot be
    # signed must not stop either.
    with jobs.isolated(None, "supervision", "this tick"), db.session() as s:
        supervision.supervise(s, settings)
    with jobs.isolated(None, "reminder", "this tick"), db.session() as s:
        supervision.remind_visits(s, keybox or KeyBox(settings.master_key))
    with jobs.isolated(None, "escalation", "this tick"), db.session() as s:
        escalation.schedule(
            s,
            low_battery=settings.escalate_low_battery,
            offline_delay_s=settings.offline_escalation_delay_s,
        )
    with jobs.isolated(None, "delivery", "this tick"):
        links = responder_links.signer(settings.master_key, settings.public_url)
        escalation.deliver_due(db, notifier, links=links)
    return True


def forward_round(db: Database) -> None:
    """Forwards to the alarm receiving centres, then their NULL supervision."""
    with jobs.isolated(None, "arc", "this round"):
        arc_forwarding.forward_due(db)
    with jobs.isolated(None, "arc", "supervision this round"):
        arc_forwarding.supervise(db)


async def forward_loop(db: Database, lead: Leadership, tick_s: float) -> None:
    """Like deliver_due, but woken by the commit that stores an alarm rather than by the tick:
    BS 8484 gives press-to-ARC 30 s and a tick's wait would spend a good part of that. Network
    calls run in a worker thread, outside any transaction. Only the leader forwards."""
    loop, waiter = asyncio.get_running_loop(), asyncio.Event()
    arc_forwarding.WAITERS.add(loop, waiter)
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), tick_s)
            waiter.clear()  # a commit during the round below wakes the next one at once
            if not lead.held:
                continue
            try:
                await run_in_threadpool(forward_round, db)
            except Exception:  # noqa: BLE001 - one bad round must not stop forwarding for good
                jobs.failed("arc", "this round; retrying next round")
    finally:
        arc_forwarding.WAITERS.remove(loop, waiter)


async def run(
    db: Database,
    settings: Settings,
    notifier: escalation.Notifier,
    lead: Leadership | None = None,
    keybox: KeyBox | None = None,
) -> None:
    lead = lead or Leadership(db)
    keybox = keybox or KeyBox(settings.master_key)
    forwarder = asyncio.create_task(forward_loop(db, lead, settings.scheduler_tick_s))
    loop, woken = asyncio.get_running_loop(), asyncio.Event()
    escalation.WAITERS.add(loop, woken)
    try:
        while True:
            try:
                await run_in_threadpool(tick, db, settings, notifier, lead, keybox)
            except Exception:  # noqa: BLE001 - one bad tick must not stop supervision for good
                jobs.failed("tick", "this tick; retrying next tick")
            # Next tick at the interval, or as soon as a new alarm commits (a contact with no
            # delay is told within a round trip), but never closer than WOKEN_GAP_S: a burst of
            # alarms costs a few ticks a second, not one per alarm.
            await asyncio.sleep(min(WOKEN_GAP_S, settings.scheduler_tick_s))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    woken.wait(), max(0.0, settings.scheduler_tick_s - WOKEN_GAP_S)
                )
            woken.clear()
    finally:
        escalation.WAITERS.remove(loop, woken)
        forwarder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await forwarder
        await run_in_threadpool(arc_forwarding.close_links)
        await run_in_threadpool(lead.release)
