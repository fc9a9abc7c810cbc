"""console for admins and supervisors: teams, supervisors' teams, risk assessments, incidents
without an alarm, forced password change, fob settings sent from the console

Revision ID: 0009_console_admin
Revises: 0008_contact_channels
Create Date: 2026-12-03 11:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.models

revision = "0009_console_admin"
down_revision = "0008_contact_channels"
branch_labels = None
depends_on = None

_UTC = monitor.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=80), nullable=False, unique=True),
        sa.Column("office", sa.String(length=120), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
    )
    # Every team a worker already names becomes a row, so no worker drops out of scope.
    op.execute(
        "INSERT INTO teams (name, created_at) SELECT DISTINCT team, CURRENT_TIMESTAMP "
        "FROM workers WHERE team IS NOT NULL AND team <> ''"
    )
    op.create_table(
        "user_teams",
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("heartbeat_pending_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("heartbeat_pending_since", _UTC, nullable=True))
        batch.add_column(sa.Column("last_heartbeat_at", _UTC, nullable=True))
        batch.add_column(sa.Column("settings_json", sa.Text(), nullable=True))
    with op.batch_alter_table("workers") as batch:
        batch.add_column(sa.Column("email", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("job_title", sa.String(length=120), nullable=True))
    op.create_table(
        "risk_assessments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "worker_id",
            sa.Integer(),
            sa.ForeignKey("workers.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("hazards", sa.Text(), nullable=False),
        sa.Column("controls", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("changed_at", _UTC, nullable=False),
        sa.Column("changed_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.UniqueConstraint("worker_id", "version", name="uq_risk_worker_version"),
    )
    with op.batch_alter_table("incidents") as batch:
        batch.alter_column("alarm_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("worker_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("team", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("occurred_at", _UTC, nullable=True))
        batch.add_column(sa.Column("location", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("reported_by", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("people_involved", sa.Text(), nullable=True))
        batch.add_column(sa.Column("police_reference", sa.String(length=60), nullable=True))
        batch.add_column(sa.Column("actions_taken", sa.Text(), nullable=True))
        batch.add_column(sa.Column("lessons_learnt", sa.Text(), nullable=True))
        batch.create_foreign_key(
            "fk_incidents_worker", "workers", ["worker_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_incidents_occurred_at", ["occurred_at"])
    # Incidents filed against an alarm before this revision: when and whom come from the alarm.
    op.execute(
        "UPDATE incidents SET occurred_at = (SELECT raised_at FROM alarms "
        "WHERE alarms.id = incidents.alarm_id), worker_id = (SELECT worker_id FROM alarms "
        "WHERE alarms.id = incidents.alarm_id)"
    )
    op.execute(
        "UPDATE incidents SET team = (SELECT team FROM workers "
        "WHERE workers.id = incidents.worker_id) WHERE worker_id IS NOT NULL"
    )
    op.execute("UPDATE incidents SET occurred_at = created_at WHERE occurred_at IS NULL")
    with op.batch_alter_table("incidents") as batch:
        batch.alter_column("occurred_at", existing_type=_UTC, nullable=False)


def downgrade() -> None:
    # Incidents without an alarm cannot exist before this revision and are dropped.
    op.execute("DELETE FROM incidents WHERE alarm_id IS NULL")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_occurred_at")
        batch.drop_constraint("fk_incidents_worker", type_="foreignkey")
        for col in (
            "lessons_learnt",
            "actions_taken",
            "police_reference",
            "people_involved",
            "reported_by",
            "location",
            "occurred_at",
            "team",
            "worker_id",
        ):
            batch.drop_column(col)
        batch.alter_column("alarm_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("risk_assessments")
    with op.batch_alter_table("devices") as batch:
        for col in (
            "settings_json",
            "last_heartbeat_at",
            "heartbeat_pending_since",
            "heartbeat_pending_s",
        ):
            batch.drop_column(col)
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("job_title")
        batch.drop_column("email")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("must_change_password")
    op.drop_table("user_teams")
    op.drop_table("teams")
