"""The security suite's extra credentials and its views of a seeded, populated database."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from devstack.localstack import uvicorn_in_thread
from host_tests.support.monitor import GATEWAY_TOKEN, make_settings
from monitor.api.main import create_app
from monitor.seed import Seeded

OTHER_GATEWAY_TOKEN = "vgw_second_gateway_token_for_replays"
REVOKED_GATEWAY_TOKEN = "vgw_revoked_gateway_token"
REVOKED_DEVICE_ID = 9
REVOKED_DEVICE_KEY = bytes(range(200, 216))
SPARE_DEVICE_ID = 11  # a fob in the spare pool: allocated to nobody, not revoked


@dataclass
class Creds:
    """Plaintext secrets issued in the template (the database holds only their hashes)."""

    operator_api: str
    admin_api: str
    operator_session: str
    operator_csrf: str
    admin_session: str
    admin_csrf: str
    open_alarm_id: int
    resolved_alarm_id: int
    other_gateway_id: int
    reset_token: str  # a password reset token for the operator, issued by the admin
    phone_token: str  # an enrolled phone's gateway token, scoped to the seeded worker
    enrolment_code: str  # an unused enrolment code for the seeded worker
    # A supervisor of the seeded worker's team: every alarm in the template is theirs.
    supervisor_api: str
    supervisor_session: str
    supervisor_csrf: str
    incident_id: int = 0  # an incident without an alarm, of the seeded worker (issue 16)


@dataclass
class Template:
    path: Path
    seeded: Seeded
    creds: Creds


@dataclass
class PgTemplate:
    name: str  # a PostgreSQL database to CREATE DATABASE ... TEMPLATE from
    seeded: Seeded
    creds: Creds


@dataclass
class SecEnv:
    app: FastAPI
    client: TestClient
    seeded: Seeded
    creds: Creds

    def frames(self, items: list[dict[str, Any]], token: str = GATEWAY_TOKEN) -> list[Any]:
        # Encoded here, not by httpx: Python's json writes inf/nan as Infinity/NaN, which is
        # what a hostile gateway can send, and httpx refuses to.
        r = self.client.post(
            "/v1/frames",
            content=json.dumps({"frames": items}),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert r.status_code == 200, r.text
        results: list[Any] = r.json()["results"]
        return results

    def rejections(self) -> dict[str, int]:
        r = self.client.get(
            "/v1/reports/rejections", headers={"Authorization": f"Bearer {self.creds.admin_api}"}
        )
        assert r.status_code == 200, r.text
        return {reason: row["count"] for reason, row in r.json().items()}


@contextlib.contextmanager
def open_env(template: Template, tmp_path: Path, **settings: Any) -> Iterator[SecEnv]:
    shutil.copy(template.path, tmp_path / "vigil.db")
    app = create_app(make_settings(f"sqlite:///{tmp_path}/vigil.db", **settings), migrate=False)
    with TestClient(app) as client:
        yield SecEnv(app, client, template.seeded, template.creds)
    app.state.db.engine.dispose()


@dataclass
class Served:
    app: FastAPI
    url: str


@contextlib.contextmanager
def served(template: Template, tmp_path: Path, **settings: Any) -> Iterator[Served]:
    """A fresh copy of the template under a real uvicorn on a loopback port, in a thread: for
    what only a real server shows (streams that must end, connections that must close)."""
    shutil.copy(template.path, tmp_path / "vigil.db")
    app = create_app(make_settings(f"sqlite:///{tmp_path}/vigil.db", **settings), migrate=False)
    try:
        with uvicorn_in_thread(app) as url:
            yield Served(app, url)
    finally:
        app.state.db.engine.dispose()
