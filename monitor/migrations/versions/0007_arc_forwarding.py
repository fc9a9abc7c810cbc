"""arc forwarding: alarm receiving centres and each alarm's SIA DC-09 forward (issue 15)

Revision ID: 0007_arc_forwarding
Revises: 0006_refused_credentials
Create Date: 2026-12-03 07:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.models

revision = "0007_arc_forwarding"
down_revision = "0006_refused_credentials"
branch_labels = None
depends_on = None

_UTC = monitor.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "arc_receivers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.String(3), server_default="tcp", nullable=False),
        sa.Column("account", sa.String(16), nullable=False),
        sa.Column("receiver_number", sa.String(6), server_default="0", nullable=False),
        sa.Column("line_number", sa.String(6), server_default="0", nullable=False),
        sa.Column("aes_key_hex", sa.String(64), nullable=True),
        sa.Column("null_interval_s", sa.Integer(), server_default="60", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("next_sequence", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_ack_at", _UTC, nullable=True),
        sa.Column("failing_since", _UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "arc_forwards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("receiver_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", _UTC, nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("sent_at", _UTC, nullable=True),
        sa.Column("acked_at", _UTC, nullable=True),
        sa.Column("failing_since", _UTC, nullable=True),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarms.id"]),
        sa.ForeignKeyConstraint(["receiver_id"], ["arc_receivers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alarm_id", "receiver_id", name="uq_arc_forward_alarm_receiver"),
    )
    op.create_index("ix_arc_forwards_alarm_id", "arc_forwards", ["alarm_id"], unique=False)
    op.create_index(
        "ix_arc_forwards_state_next", "arc_forwards", ["state", "next_attempt_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_arc_forwards_state_next", table_name="arc_forwards")
    op.drop_index("ix_arc_forwards_alarm_id", table_name="arc_forwards")
    op.drop_table("arc_forwards")
    op.drop_table("arc_receivers")
