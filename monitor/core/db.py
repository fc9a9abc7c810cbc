"""Engine and sessions. SQLite (default, WAL) or PostgreSQL via VIGIL_DATABASE_URL."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from monitor.core import urgency
from monitor.errors import DatabaseBusy

SQLITE_BUSY_TIMEOUT_MS = 10_000  # another process holding the file waits this long
# In-process, transactions queue on a lock instead: SQLite's busy handler polls with sleeps of
# up to 100 ms, which an SOS stuck behind a bulk batch would feel. Long enough for any batch.
SQLITE_LOCK_TIMEOUT_S = 30.0
_file_locks: dict[str, threading.Lock] = {}
_file_locks_guard = threading.Lock()


def _lock_for(path: str) -> threading.Lock:
    with _file_locks_guard:
        return _file_locks.setdefault(
            os.path.abspath(path) if path else ":memory:", threading.Lock()
        )


def normalise_url(url: str) -> str:
    # Accept plain postgresql:// URLs and use psycopg 3, the driver we install.
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # We issue BEGIN ourselves (below), so the driver must not.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL is durable across process crashes (kill -9); only an OS crash can lose
            # the last commits, which the gateway's durable queue then resends.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.close()

        lock = _lock_for(path)

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # One transaction at a time per file, in arrival order. IMMEDIATE takes SQLite's
            # write lock up front so a transaction that reads and then writes can never fail
            # with SQLITE_BUSY_SNAPSHOT; another process makes it wait (busy_timeout) instead.
            # While an alarm is in flight, everything else waits its turn first (urgency.py).
            urgency.step_aside_at_begin()
            if not lock.acquire(timeout=SQLITE_LOCK_TIMEOUT_S):
                raise DatabaseBusy("the database stayed locked too long; retry the request")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                lock.release()
                raise
            conn.info["vigil_holds_lock"] = True

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _end(conn: Any) -> None:
            # Only the connection that took the lock gives it back.
            if conn.info.pop("vigil_holds_lock", False):
                lock.release()

        return engine
    return create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        # Names each instance's sessions in pg_stat_activity (and so the scheduler's leader in
        # pg_locks) when several instances share the database.
        connect_args={"application_name": application_name()},
    )


def application_name() -> str:
    return f"vigil-monitor {socket.gethostname()} pid {os.getpid()}"[:63]


class Database:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessionmaker() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def libpq_dsn(self) -> str:
        """The same database as a plain libpq URL, for connections outside SQLAlchemy (LISTEN)."""
        from psycopg.conninfo import make_conninfo

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return make_conninfo(url, application_name=application_name() + " listen")

    def migrate(self) -> None:
        from monitor.migrate import upgrade

        upgrade(self.engine)
