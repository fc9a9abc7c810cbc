"""The in-service scheduler: supervision and escalation every tick, in a worker thread."""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from monitor.core.config import Settings
from monitor.core.db import Database
from monitor.services import escalation, supervision

log = logging.getLogger("vigil.scheduler")


def tick(db: Database, settings: Settings, notifier: escalation.Notifier) -> None:
    with db.session() as s:
        supervision.supervise(s, settings)
    with db.session() as s:
        escalation.schedule(s)
    escalation.deliver_due(db, notifier)


async def run(db: Database, settings: Settings, notifier: escalation.Notifier) -> None:
    while True:
        try:
            await run_in_threadpool(tick, db, settings, notifier)
        except Exception:  # noqa: BLE001 - one bad tick must not stop supervision for good
            log.exception("scheduler tick failed; retrying next tick")
        await asyncio.sleep(settings.scheduler_tick_s)
