"""The append-only audit log: who did what to which alarm, when."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy.orm import Session

from monitor.models import AuditEntry, utcnow


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    alarm_id: int | None = None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=at or utcnow(),
            actor=actor,
            action=action,
            alarm_id=alarm_id,
            subject=subject,
            details=json.dumps(details, sort_keys=True, default=str) if details else None,
        )
    )
