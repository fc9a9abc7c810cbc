"""Alembic environment: the engine comes from monitor.migrate (or VIGIL_DATABASE_URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from monitor.core.config import get_settings
from monitor.core.db import make_engine
from monitor.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    engine: Engine = config.attributes.get("engine") or make_engine(get_settings().database_url)
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=conn.dialect.name == "sqlite",  # SQLite alters by table copy
        )
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()


run()
