"""Shared fixtures: the two interpreters that every device-code test runs on, and the monitor's
databases and live server that several suites share. Helpers are in host_tests/support/."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devstack.interpreters import CPython, Interpreter, MicroPython  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from devstack.pg import Cluster
    from host_tests.support.monitor import LiveServer
    from monitor.seed import Seeded

# Device tests cross a process boundary per example on MicroPython: allow for it, and keep CI
# runs reproducible.
settings.register_profile(
    "vigil", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("ci", parent=settings.get_profile("vigil"), derandomize=True)
settings.load_profile("ci" if "CI" in __import__("os").environ else "vigil")


# Tests that ask for this fixture by name are marked `micropython` themselves.
@pytest.fixture(scope="session")
def micropython() -> Iterator[MicroPython]:
    mp = MicroPython()
    yield mp
    mp.close()


# The MicroPython half carries the `micropython` marker: `-m "not micropython"` runs only the
# CPython half, `-m micropython` only the port.
@pytest.fixture(
    scope="session",
    params=["cpython", pytest.param("micropython", marks=pytest.mark.micropython)],
)
def device(request: pytest.FixtureRequest) -> Interpreter:
    """Device code's interpreter: every test using it runs on CPython and on real MicroPython."""
    if request.param == "cpython":
        return CPython()
    return request.getfixturevalue("micropython")


# The monitor's databases and live server, used by the monitor, security, phone and tooling
# suites. Imported inside the fixtures so that device-code runs do not load the monitor.


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    from devstack.pg import Cluster

    # Fails loudly (PostgresMissing) when PostgreSQL is not installed: never a silent skip.
    cluster = Cluster()
    cluster.start()
    yield cluster
    cluster.stop()


# Migrating and seeding (two argon2 hashes) once per engine and copying the result keeps each
# test's set-up to a file copy or a CREATE DATABASE ... TEMPLATE.
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
    from host_tests.support.monitor import make_settings, seed_app
    from monitor.api.main import create_app

    path = tmp_path_factory.mktemp("template") / "vigil.db"
    app = create_app(make_settings(f"sqlite:///{path}"))
    seeded = seed_app(app)
    app.state.db.engine.dispose()  # the last connection checkpoints the WAL into the file
    return path, seeded


@pytest.fixture(scope="session")
def pg_template(pg_cluster: Cluster) -> tuple[str, Seeded]:
    from host_tests.support.monitor import make_settings, seed_app
    from monitor.api.main import create_app

    url = pg_cluster.new_database()
    app = create_app(make_settings(url))
    seeded = seed_app(app)
    app.state.db.engine.dispose()
    return url.split("@/", 1)[1].split("?")[0], seeded


@pytest.fixture
def live_server(tmp_path: Path, sqlite_template: tuple[Path, Seeded]) -> Iterator[LiveServer]:
    """The app under a real uvicorn on a loopback port, in a thread."""
    import shutil

    from devstack.localstack import uvicorn_in_thread
    from host_tests.support.monitor import LiveServer, make_settings
    from monitor.api.main import create_app

    shutil.copy(sqlite_template[0], tmp_path / "vigil.db")
    app = create_app(make_settings(f"sqlite:///{tmp_path}/vigil.db"))
    with uvicorn_in_thread(app) as url:
        yield LiveServer(app, url)
    app.state.db.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium under Playwright, one per test module (console and phone tests)."""
    from host_tests.support.browser import chromium

    with chromium() as b:
        yield b
