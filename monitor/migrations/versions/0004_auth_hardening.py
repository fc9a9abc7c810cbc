"""auth hardening: API tokens linked to the session that minted them, and they expire

Revision ID: 0004_auth_hardening
Revises: 0003_downlink_routing
Create Date: 2026-12-01 22:30:00.000000
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import monitor.models

revision = "0004_auth_hardening"
down_revision = "0003_downlink_routing"
branch_labels = None
depends_on = None

# API tokens minted before this revision had no expiry; they get the default lifetime from now
# rather than stop working at the upgrade (Settings.api_token_days).
LEGACY_API_TOKEN_DAYS = 90


def upgrade() -> None:
    op.add_column("auth_tokens", sa.Column("session_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_auth_tokens_session_id"), "auth_tokens", ["session_id"], unique=False)
    tokens = sa.table(
        "auth_tokens",
        sa.column("kind", sa.String()),
        sa.column("expires_at", monitor.models.UTCDateTime(timezone=True)),
    )
    op.execute(
        tokens.update()
        .where(tokens.c.kind == "api", tokens.c.expires_at.is_(None))
        .values(expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=LEGACY_API_TOKEN_DAYS))
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_tokens_session_id"), table_name="auth_tokens")
    with op.batch_alter_table("auth_tokens") as batch:
        batch.drop_column("session_id")
