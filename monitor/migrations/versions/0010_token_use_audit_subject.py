"""when each API token was last used; the audit log looked up by subject (a fob's history)

Revision ID: 0010_token_use_audit_subject
Revises: 0009_console_admin
Create Date: 2026-12-04 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.models

revision = "0010_token_use_audit_subject"
down_revision = "0009_console_admin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_tokens") as batch:
        batch.add_column(
            sa.Column("last_used_at", monitor.models.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index("ix_audit_log_subject", "audit_log", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_subject", table_name="audit_log")
    with op.batch_alter_table("auth_tokens") as batch:
        batch.drop_column("last_used_at")
