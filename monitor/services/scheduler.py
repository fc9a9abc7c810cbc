"""The in-service scheduler: supervision and escalation every tick, in a worker thread.

With several instances on one PostgreSQL, each tick first takes a transaction-free advisory
lock so exactly one instance supervises and escalates per tick; if that instance dies, the
lock dies with its connection and the next tick anywhere takes over. SQLite has one instance.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from monitor.core.config import Settings
from monitor.core.db import Database
from monitor.services import escalation, supervision

log = logging.getLogger("vigil.scheduler")

# Any fixed 64-bit number, the same on every instance: "the Vigil scheduler".
ADVISORY_LOCK_KEY = 0x5647_494C_5343_4844


@contextmanager
def leadership(db: Database) -> Iterator[bool]:
    """Yields True when this instance should run the tick."""
    if db.is_sqlite:
        yield True
        return
    with db.engine.connect() as conn:
        got = bool(
            conn.scalar(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY - (1 << 63)}
            )
        )
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY - (1 << 63)}
                )
                conn.commit()


def tick(db: Database, settings: Settings, notifier: escalation.Notifier) -> bool:
    """One round of supervision and escalation; False when another instance has it."""
    with leadership(db) as leader:
        if not leader:
            return False
        with db.session() as s:
            supervision.supervise(s, settings)
        with db.session() as s:
            escalation.schedule(s)
        escalation.deliver_due(db, notifier)
        return True


async def run(db: Database, settings: Settings, notifier: escalation.Notifier) -> None:
    while True:
        try:
            await run_in_threadpool(tick, db, settings, notifier)
        except Exception:  # noqa: BLE001 - one bad tick must not stop supervision for good
            log.exception("scheduler tick failed; retrying next tick")
        await asyncio.sleep(settings.scheduler_tick_s)
