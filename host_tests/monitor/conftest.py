"""Monitor fixtures: a real database (SQLite file or throwaway PostgreSQL), the app, helpers."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from devstack.localstack import uvicorn_in_thread
from devstack.pg import Cluster
from monitor.api.main import create_app
from monitor.core.config import Settings
from monitor.seed import Seeded, seed
from protocol import frame_types as ft
from protocol import frames

# Debian's chromium for the browser tests (console, phone), with the flags this closed network
# needs: without the background-networking ones it keeps trying hosts it cannot reach.
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
UI_TIMEOUT_MS = 10_000

DEVICE_ID = 7
DEVICE_KEY = bytes(range(100, 116))
GATEWAY_TOKEN = "vgw_test_gateway_token"
ADMIN_PASSWORD = "admin-password-123"
OPERATOR_PASSWORD = "operator-password-123"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    # Fails loudly (PostgresMissing) when PostgreSQL is not installed: never a silent skip.
    cluster = Cluster()
    cluster.start()
    yield cluster
    cluster.stop()


# Migrating and seeding (two argon2 hashes) once per engine and copying the result keeps each
# test's set-up to a file copy or a CREATE DATABASE ... TEMPLATE.
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
    path = tmp_path_factory.mktemp("template") / "vigil.db"
    app = create_app(make_settings(f"sqlite:///{path}"))
    seeded = seed_app(app)
    app.state.db.engine.dispose()  # the last connection checkpoints the WAL into the file
    return path, seeded


@pytest.fixture(scope="session")
def pg_template(pg_cluster: Cluster) -> tuple[str, Seeded]:
    url = pg_cluster.new_database()
    app = create_app(make_settings(url))
    seeded = seed_app(app)
    app.state.db.engine.dispose()
    return url.split("@/", 1)[1].split("?")[0], seeded


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


def make_settings(db_url: str, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "environment": "test",
        "run_scheduler": False,  # tests drive supervision with chosen clocks
        "master_key": "test-master-key-" + "x" * 32,
    }
    return Settings(database_url=db_url, **{**base, **kw})


@dataclass
class Env:
    app: FastAPI
    seeded: Seeded
    client: TestClient

    @property
    def gw(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {GATEWAY_TOKEN}"}

    def login(self, username: str = "operator") -> dict[str, str]:
        """Log the client in with a console session; returns the CSRF header to send."""
        pw = ADMIN_PASSWORD if username == "admin" else OPERATOR_PASSWORD
        r = self.client.post("/v1/auth/login", json={"username": username, "password": pw})
        assert r.status_code == 200, r.text
        return {"X-CSRF-Token": r.json()["csrf_token"]}

    def token(self, username: str = "operator") -> dict[str, str]:
        """A bearer token for the API (no cookie on the request)."""
        csrf = self.login(username)
        r = self.client.post("/v1/auth/tokens", json={"label": "tests"}, headers=csrf)
        assert r.status_code == 201, r.text
        self.client.cookies.clear()
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def post_frames(self, *items: dict[str, Any]) -> list[dict[str, Any]]:
        r = self.client.post("/v1/frames", json={"frames": list(items)}, headers=self.gw)
        assert r.status_code == 200, r.text
        results: list[dict[str, Any]] = r.json()["results"]
        return results


def frame_item(
    ftype: int,
    counter: int,
    fields: tuple[int, ...],
    *,
    device_id: int = DEVICE_ID,
    key: bytes = DEVICE_KEY,
    received_at: dt.datetime | None = None,
    location: dict[str, float] | None = None,
    link: str = "ble",
) -> dict[str, Any]:
    return {
        "frame": frames.encode(ftype, device_id, counter, fields, key).hex(),
        "received_at": (received_at or dt.datetime.now(dt.UTC)).isoformat(),
        "link": link,
        "rssi": -70,
        "location": location,
    }


def sos(counter: int, age_s: int = 0, battery: int = 80, **kw: Any) -> dict[str, Any]:
    return frame_item(ft.SOS, counter, (battery, 0, age_s), **kw)


def heartbeat(counter: int, battery: int = 90, **kw: Any) -> dict[str, Any]:
    return frame_item(ft.HEARTBEAT, counter, (battery, 0, 0, 1), **kw)


def seed_app(app: FastAPI, webhook: str | None = None) -> Seeded:
    return seed(
        app.state.db,
        app.state.keybox,
        admin_password=ADMIN_PASSWORD,
        operator_password=OPERATOR_PASSWORD,
        device_id=DEVICE_ID,
        device_key=DEVICE_KEY,
        gateway_token=GATEWAY_TOKEN,
        escalation_webhook=webhook,
    )


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


@dataclass
class LiveServer:
    app: FastAPI
    url: str


@pytest.fixture
def live_server(tmp_path: Path, sqlite_template: tuple[Path, Seeded]) -> Iterator[LiveServer]:
    """The app under a real uvicorn on a loopback port, in a thread."""
    shutil.copy(sqlite_template[0], tmp_path / "vigil.db")
    app = create_app(make_settings(f"sqlite:///{tmp_path}/vigil.db"))
    with uvicorn_in_thread(app) as url:
        yield LiveServer(app, url)
    app.state.db.engine.dispose()


def gateway_client(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"}, timeout=30
    )
