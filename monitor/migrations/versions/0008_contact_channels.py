"""contact channels: each contact is reached by webhook, e-mail, modem SMS or HTTP SMS

Revision ID: 0008_contact_channels
Revises: 0007_arc_forwarding
Create Date: 2026-12-03 07:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_contact_channels"
down_revision = "0007_arc_forwarding"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(length=16), server_default="webhook", nullable=False)
        )
        batch.add_column(sa.Column("address", sa.String(length=500), nullable=True))
        # Non-webhook contacts have no URL; old rows keep theirs.
        batch.alter_column("webhook_url", existing_type=sa.String(length=500), nullable=True)
    # Every existing contact is a webhook: its URL becomes its address.
    op.execute("UPDATE contacts SET address = webhook_url WHERE address IS NULL")


def downgrade() -> None:
    # Only webhooks existed before: other channels' contacts cannot be expressed and are dropped.
    op.execute("DELETE FROM contacts WHERE channel <> 'webhook'")
    op.execute("UPDATE contacts SET webhook_url = address WHERE webhook_url IS NULL")
    with op.batch_alter_table("contacts") as batch:
        batch.alter_column("webhook_url", existing_type=sa.String(length=500), nullable=False)
        batch.drop_column("address")
        batch.drop_column("channel")
