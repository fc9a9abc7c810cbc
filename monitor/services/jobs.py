"""Isolation for the scheduler's work: one failing item is logged and counted, never the end of
the others or of the next tick.

Supervision, escalation and delivery each loop over many independent items (devices, alarms,
contacts). A bad row or a broken channel raising anything at all must cost that one item this
tick: before this, one alarm whose payload a webhook client could not encode failed every tick
and no contact was ever notified again.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

log = logging.getLogger("vigil.scheduler")

# Failures by job kind since this process started (supervision, escalation, delivery, tick).
FAILURES: Counter[str] = Counter()


def failed(kind: str, what: str) -> None:
    """Log the exception being handled and count it."""
    FAILURES[kind] += 1
    log.exception("%s failed for %s; the other items carry on", kind, what)


@contextmanager
def isolated(session: Session | None, kind: str, what: str) -> Iterator[None]:
    """Run one item; on any exception undo only its writes (a savepoint) and carry on."""
    if session is None:
        try:
            yield
        except Exception:  # noqa: BLE001 - the point: nothing one item raises escapes
            failed(kind, what)
        return
    savepoint = session.begin_nested()
    try:
        yield
        savepoint.commit()
    except Exception:  # noqa: BLE001 - as above
        savepoint.rollback()
        failed(kind, what)
