"""A batch's rejection and flag counts, added to `RejectionCount` (one row per reason)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.models import RejectionCount
from monitor.services.ingest.batch import Batch


def count_rejections(
    session: Session, batch: Batch, gateway_id: int | None, now: dt.datetime
) -> None:
    # An upsert: two instances meeting a new reason at once must not collide on the insert
    # (that would fail the batch, good frames included).
    dialect = session.get_bind().dialect.name
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    for reason, n in batch.rejections.items():
        values = {
            "reason": reason,
            "count": n,
            "last_at": now,
            "last_device_id": batch.last_rejected[reason][0],
            "last_gateway_id": gateway_id,
        }
        stmt = insert_(RejectionCount).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[RejectionCount.reason],
            set_={
                "count": RejectionCount.count + n,
                "last_at": stmt.excluded.last_at,
                "last_device_id": stmt.excluded.last_device_id,
                "last_gateway_id": stmt.excluded.last_gateway_id,
            },
        )
        session.execute(stmt)
