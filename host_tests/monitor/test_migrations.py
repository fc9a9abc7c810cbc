"""Alembic migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from monitor.core.db import Database
from monitor.models import AuthToken, Base


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    db = Database(db_url)
    db.migrate()
    db.migrate()  # idempotent: a restart on an up-to-date database changes nothing
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        tables = set(inspect(conn).get_table_names())
    db.engine.dispose()
    assert diff == []
    assert {"alarms", "frames", "devices", "audit_log", "alembic_version"} <= tables


def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/wal.db")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.engine.dispose()


def test_auth_hardening_gives_legacy_api_tokens_an_expiry(tmp_path: object) -> None:
    """API tokens minted before tokens expired keep working after the upgrade, for 90 days."""
    import datetime as dt

    from sqlalchemy import text

    from monitor.migrate import upgrade

    db = Database(f"sqlite:///{tmp_path}/legacy.db")
    upgrade(db.engine, "0001")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, name, role, password_hash, active, created_at)"
                " VALUES (1, 'a', 'A', 'admin', 'x', 1, '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO auth_tokens (user_id, kind, token_hash, created_at)"
                " VALUES (1, 'api', 'h1', '2026-01-01 00:00:00'),"
                " (1, 'session', 'h2', '2026-01-01 00:00:00')"
            )
        )
    upgrade(db.engine, "0004_auth_hardening")
    # Only the columns of that revision: the model has grown since.
    cols = (AuthToken.kind, AuthToken.expires_at, AuthToken.session_id)
    with db.session() as s:
        rows = {t.kind: t for t in s.execute(select(*cols))}
    db.engine.dispose()
    left = rows["api"].expires_at - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=89) < left <= dt.timedelta(days=90)
    assert rows["session"].expires_at is None and rows["api"].session_id is None


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_alarms_from_before_the_monitor_clock_keep_their_time_and_are_not_marked_clamped(
    engine: str, tmp_path: object, request: pytest.FixtureRequest
) -> None:
    """0002 gives alarms already stored a stored_at (their received_at, the best there is)."""
    from sqlalchemy import text

    from monitor.migrate import upgrade
    from monitor.models import Alarm

    url = (
        f"sqlite:///{tmp_path}/legacy.db"
        if engine == "sqlite"
        else request.getfixturevalue("pg_cluster").new_database()
    )
    db = Database(url)
    upgrade(db.engine, "0001")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alarms (kind, priority, status, raised_at, received_at,"
                " age_lower_bound) VALUES ('sos', 0, 'open', '2026-11-30 10:00:00+00:00',"
                " '2026-11-30 10:00:05+00:00', false)"
            )
        )
    upgrade(db.engine, "head")
    with db.session() as s:
        [alarm] = s.scalars(select(Alarm)).all()
        assert alarm.stored_at == alarm.received_at
        assert alarm.received_at_clamped is False
    db.engine.dispose()
