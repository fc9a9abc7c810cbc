"""downlinks found by device and age (a fob's pending downlinks follow it to a new gateway)

Revision ID: 0003_downlink_routing
Revises: 0002
Create Date: 2026-12-01 22:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0003_downlink_routing"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("downlinks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_downlinks_device_created", ["device_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("downlinks", schema=None) as batch_op:
        batch_op.drop_index("ix_downlinks_device_created")
