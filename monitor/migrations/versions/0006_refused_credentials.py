"""refused credentials: when a revoked gateway or phone last called, and how often

Revision ID: 0006_refused_credentials
Revises: 0005_phones
Create Date: 2026-12-02 14:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.models

revision = "0006_refused_credentials"
down_revision = "0005_phones"
branch_labels = None
depends_on = None

_UTC = monitor.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("gateways") as batch:
        batch.add_column(sa.Column("refused_at", _UTC, nullable=True))
        batch.add_column(
            sa.Column("refused_attempts", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("gateways") as batch:
        batch.drop_column("refused_attempts")
        batch.drop_column("refused_at")
