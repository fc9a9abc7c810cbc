"""alarms: the monitor's own receive time, and whether the gateway's time was clamped

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 22:30:00

Existing alarms take their stored time from received_at (the best there is for them) and are
not marked clamped: nothing about them was checked when they were stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "alarms",
        sa.Column("received_at_clamped", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "alarms", sa.Column("stored_at", monitor.models.UTCDateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE alarms SET stored_at = received_at")
    # Batch mode: SQLite cannot ALTER a column in place, so Alembic copies the table.
    with op.batch_alter_table("alarms") as batch:
        batch.alter_column("stored_at", nullable=False)
        batch.alter_column("received_at_clamped", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("alarms") as batch:
        batch.drop_column("stored_at")
        batch.drop_column("received_at_clamped")
