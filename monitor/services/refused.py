"""A revoked gateway or phone that keeps calling. Revoking a credential must not lose the frames
it holds (a phone keeps them in its outbox and says so to its worker), but its supervisor must
know it is still trying: those frames, an alarm perhaps among them, now wait for a worker to
re-enrol the phone or for the fob to reach another gateway. The refusal itself stays a 401."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from monitor.errors import MonitorError
from monitor.models import Gateway, utcnow
from monitor.services import audit

log = logging.getLogger(__name__)

# One attempt counted per this interval: a credential hammering the API costs one write per
# interval, not one per request.
COUNT_EVERY = dt.timedelta(seconds=5)


def note(session: Session, gateway: Gateway, now: dt.datetime | None = None) -> None:
    """Record a refused call from a revoked `gateway`, committed at once (the request that made
    it is about to be refused). Never raises: the caller's 401 matters more than the note."""
    now = now or utcnow()
    last = gateway.refused_at
    if last is not None and now - last < COUNT_EVERY:
        return
    try:
        if not gateway.refused_attempts:
            audit.record(
                session,
                f"gateway:{gateway.id}",
                "revoked_credential_still_calling",
                subject=gateway.name,
                details={"kind": gateway.kind, "worker_id": gateway.worker_id},
                at=now,
            )
        gateway.refused_at = now
        gateway.refused_attempts = (gateway.refused_attempts or 0) + 1
        session.commit()
    except (SQLAlchemyError, MonitorError):
        session.rollback()
        log.warning("could not record a refused call from gateway %s", gateway.id, exc_info=True)
