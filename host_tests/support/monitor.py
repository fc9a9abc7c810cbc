"""The monitor's seeded credentials, settings, a TestClient wrapper and frame builders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from monitor.core.config import Settings
from monitor.seed import Seeded, seed
from protocol import frame_types as ft
from protocol import frames

DEVICE_ID = 7
DEVICE_KEY = bytes(range(100, 116))
GATEWAY_TOKEN = "vgw_test_gateway_token"
ADMIN_PASSWORD = "admin-password-123"
OPERATOR_PASSWORD = "operator-password-123"


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


@dataclass
class LiveServer:
    app: FastAPI
    url: str


def gateway_client(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"}, timeout=30
    )
