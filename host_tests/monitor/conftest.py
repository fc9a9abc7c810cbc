"""Monitor fixtures: a real database (SQLite file or throwaway PostgreSQL) and the app on it.

The templates, the PostgreSQL cluster and the live server are in host_tests/conftest.py (the
security, phone and tooling suites use them too); helpers are in host_tests/support/monitor.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from devstack.pg import Cluster
from host_tests.support.console import Populated, monitor_with, populate, tile_server
from host_tests.support.monitor import ADMIN_PASSWORD, Env, LiveServer, make_settings
from monitor.api.main import create_app
from monitor.seed import Seeded


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def seeded_db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Seeded]:
    """A migrated, seeded database of its own for one test: (url, seeded ids)."""
    if request.param == "sqlite":
        template, seeded = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / "vigil.db")
        return f"sqlite:///{tmp_path}/vigil.db", seeded
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    name, seeded = request.getfixturevalue("pg_template")
    return cluster.new_database(template=name), seeded


@pytest.fixture
def db_url(seeded_db: tuple[str, Seeded]) -> str:
    return seeded_db[0]


@pytest.fixture
def env(seeded_db: tuple[str, Seeded]) -> Iterator[Env]:
    url, seeded = seeded_db
    app = create_app(make_settings(url))
    with TestClient(app) as client:
        yield Env(app, seeded, client)
    app.state.db.engine.dispose()


@pytest.fixture
def sqlite_env(tmp_path: Path, sqlite_template: tuple[Path, Seeded]) -> Iterator[Env]:
    template, seeded = sqlite_template
    shutil.copy(template, tmp_path / "vigil.db")
    app = create_app(make_settings(f"sqlite:///{tmp_path}/vigil.db"))
    with TestClient(app) as client:
        yield Env(app, seeded, client)
    app.state.db.engine.dispose()


@pytest.fixture
def populated(
    tmp_path: Path, sqlite_template: tuple[Path, Seeded]
) -> Iterator[tuple[LiveServer, Populated]]:
    """Data on every console page (support/console.py populate), with map tiles served."""
    with (
        tile_server() as tiles,
        monitor_with(
            tmp_path, sqlite_template, map_tile_url=tiles.url + "/{z}/{x}/{y}.png"
        ) as server,
    ):
        yield server, populate(server, ADMIN_PASSWORD)
