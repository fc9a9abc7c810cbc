"""A throwaway PostgreSQL cluster on a Unix socket in a temporary directory."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

START_TIMEOUT_S = 60  # initdb + first start on a loaded 2-core CI machine


class PostgresMissing(RuntimeError):
    pass


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise PostgresMissing(
            f"PostgreSQL's {name} not found under /usr/lib/postgresql/*/bin: run `make setup` "
            "(it installs Debian's postgresql package)"
        )
    return found[-1]


class Cluster:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
        self.data = self.dir / "data"
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses to run as root: run the server as Debian's postgres user.
            shutil.chown(self.dir, "postgres", "postgres")
            os.chmod(self.dir, 0o700)
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self._n = 0

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._as_postgres, *args], check=True, capture_output=True, timeout=START_TIMEOUT_S
        )

    def start(self) -> None:
        self._run(
            _bin("initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        opts = f"-k {self.dir} -c listen_addresses='' -F -c max_connections=200"
        self._run(
            _bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-l",
            str(self.dir / "log"),
            "start",
        )

    def stop(self) -> None:
        try:
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def admin_dsn(self) -> str:
        return f"host={self.dir} user=postgres dbname=postgres"

    def new_database(self, template: str | None = None) -> str:
        """A fresh database (optionally a copy of `template`); returns its SQLAlchemy URL."""
        self._n += 1
        name = f"vigil_{os.getpid()}_{self._n}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@/{name}?host={self.dir}"
