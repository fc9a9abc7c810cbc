"""phones: a gateway credential scoped to one worker, one-time enrolment codes, visit memos and
where an alarm's position came from (issue 12)

Revision ID: 0005_phones
Revises: 0004_auth_hardening
Create Date: 2026-12-01 23:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.models

revision = "0005_phones"
down_revision = "0004_auth_hardening"
branch_labels = None
depends_on = None

_UTC = monitor.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("gateways") as batch:
        # Every gateway before this revision is a relay.
        batch.add_column(sa.Column("kind", sa.String(8), server_default="relay", nullable=False))
        batch.add_column(sa.Column("worker_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("device_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("battery_pct", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_gateways_worker_id"), ["worker_id"], unique=False)
        batch.create_foreign_key(
            "fk_gateways_worker_id_workers", "workers", ["worker_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("last_location_source", sa.String(16), nullable=True))
        batch.add_column(sa.Column("visit_where", sa.String(120), nullable=True))
        batch.add_column(sa.Column("visit_with", sa.String(120), nullable=True))
        batch.add_column(sa.Column("reminded_due_at", _UTC, nullable=True))
    with op.batch_alter_table("alarms") as batch:
        batch.add_column(sa.Column("location_source", sa.String(16), nullable=True))
        batch.add_column(sa.Column("location_fix_age_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("visit_where", sa.String(120), nullable=True))
        batch.add_column(sa.Column("visit_with", sa.String(120), nullable=True))
    op.create_table(
        "phone_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("expires_at", _UTC, nullable=False),
        sa.Column("used_at", _UTC, nullable=True),
        sa.Column("gateway_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["gateway_id"], ["gateways.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )


def downgrade() -> None:
    op.drop_table("phone_enrolments")
    with op.batch_alter_table("alarms") as batch:
        for name in ("visit_with", "visit_where", "location_fix_age_s", "location_source"):
            batch.drop_column(name)
    with op.batch_alter_table("devices") as batch:
        for name in ("reminded_due_at", "visit_with", "visit_where", "last_location_source"):
            batch.drop_column(name)
    with op.batch_alter_table("gateways") as batch:
        batch.drop_constraint("fk_gateways_worker_id_workers", type_="foreignkey")
        batch.drop_index(batch.f("ix_gateways_worker_id"))
        for name in ("battery_pct", "device_id", "worker_id", "kind"):
            batch.drop_column(name)
