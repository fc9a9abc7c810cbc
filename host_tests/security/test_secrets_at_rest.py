"""Secrets at rest and in logs: what someone with a copy of the database file or the log sees.

Every secret is issued through the real API (device key, gateway token, operator password, API
token, session cookie), then the database is read row by row and byte by byte, and every log
record of the monitor, uvicorn, SQLAlchemy (parameters included) and the gateway's HTTP client
is searched for each one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.exceptions import InvalidTag

from devstack.localstack import uvicorn_in_thread
from gateway.monitor_client import MonitorClient
from host_tests.support.monitor import (
    ADMIN_PASSWORD,
    DEVICE_KEY,
    GATEWAY_TOKEN,
    OPERATOR_PASSWORD,
    make_settings,
)
from host_tests.support.security import SecEnv, Template
from monitor.api.main import create_app
from monitor.core.crypto import KeyBox, token_hash
from protocol import frame_types as ft
from protocol import frames

NEW_PASSWORD = "correct-horse-battery-staple-42"
WRONG_PASSWORD = "Wrong-Guess-That-Must-Not-Be-Logged"


@dataclass
class Issued:
    db_path: Path
    device_id: int
    device_key: bytes
    gateway_token: str
    api_token: str
    session_cookie: str
    log: str

    def secrets(self) -> dict[str, bytes]:
        return {
            "new device key": self.device_key,
            "new device key (hex)": self.device_key.hex().encode(),
            "seeded device key": DEVICE_KEY,
            "seeded device key (hex)": DEVICE_KEY.hex().encode(),
            "new gateway token": self.gateway_token.encode(),
            "seeded gateway token": GATEWAY_TOKEN.encode(),
            "operator API token": self.api_token.encode(),
            "session cookie": self.session_cookie.encode(),
            "new user's password": NEW_PASSWORD.encode(),
            "admin password": ADMIN_PASSWORD.encode(),
            "operator password": OPERATOR_PASSWORD.encode(),
            "wrong password guess": WRONG_PASSWORD.encode(),
        }


_LOGGERS = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "sqlalchemy.engine",
    "sqlalchemy.engine.Engine",
    "httpx",
    "vigil",
    "monitor",
    "gateway",
)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def issued(
    security_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Issued]:
    """Issue one of every secret through a real uvicorn with every logger at DEBUG."""
    path = tmp_path_factory.mktemp("secrets") / "vigil.db"
    path.write_bytes(security_template.path.read_bytes())
    capture = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    # Loggers other suites or uvicorn may have quietened or detached: all of them, loudest.
    chatty = [logging.getLogger(n) for n in _LOGGERS]
    saved = [(lg.level, lg.propagate, lg.disabled) for lg in chatty]
    for lg in chatty:
        lg.setLevel(logging.DEBUG)
        lg.propagate, lg.disabled = True, False
    httpcore = logging.getLogger("httpcore")
    httpcore_level = httpcore.level
    httpcore.setLevel(logging.INFO)  # DEBUG only around the gateway's requests, see below
    try:
        app = create_app(make_settings(f"sqlite:///{path}"), migrate=False)
        # log_config=None: uvicorn's own loggers propagate to the root handler under test.
        with uvicorn_in_thread(app, log_config=None, access_log=True, log_level="debug") as url:
            result = _issue_everything(url, path, capture)
        app.state.db.engine.dispose()  # checkpoints the WAL into the file we read
        result.log = "\n".join(capture.lines)
        yield result
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
        httpcore.setLevel(httpcore_level)
        for lg, (level, propagate, disabled) in zip(chatty, saved, strict=True):
            lg.setLevel(level)
            lg.propagate, lg.disabled = propagate, disabled


def _issue_everything(url: str, path: Path, capture: _Capture) -> Issued:
    with httpx.Client(base_url=url, timeout=30) as c:
        bad = c.post("/v1/auth/login", json={"username": "admin", "password": WRONG_PASSWORD})
        assert bad.status_code == 401
        r = c.post("/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        session_cookie = c.cookies["vigil_session"]
        r = c.post("/v1/devices", json={"board": "m5stickc-plus2"}, headers=csrf)
        assert r.status_code == 201, r.text
        device_id, device_key = r.json()["device"]["id"], bytes.fromhex(r.json()["key"])
        r = c.post("/v1/gateways", json={"name": "logged-gateway"}, headers=csrf)
        assert r.status_code == 201
        gateway_token = r.json()["token"]
        user = {"username": "newop", "name": "N", "role": "operator", "password": NEW_PASSWORD}
        assert c.post("/v1/users", json=user, headers=csrf).status_code == 201
        c.cookies.clear()
        r = c.post("/v1/auth/login", json={"username": "newop", "password": NEW_PASSWORD})
        op_csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        api = c.post("/v1/auth/tokens", json={"label": "t"}, headers=op_csrf)
        api_token = api.json()["token"]
        c.cookies.clear()
        # The new fob's first frames go through the gateway's own HTTP client (DEBUG httpx and
        # httpcore logging included), the seeded fob's through plain HTTP.
        sos = frames.encode(ft.SOS, device_id, 1, (80, 0, 0), device_key).hex()
        now = dt.datetime.now(dt.UTC).isoformat()
        results = asyncio.run(
            _via_gateway(url, gateway_token, [{"frame": sos, "received_at": now}])
        )
        assert results[0].status == "accepted"
        hb = frames.encode(ft.HEARTBEAT, 7, 5000, (90, 0, 0, 1), DEVICE_KEY).hex()
        r = c.post(
            "/v1/frames",
            json={"frames": [{"frame": hb, "received_at": now}]},
            headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
        )
        assert r.json()["results"][0]["status"] == "accepted"
        r = c.get("/v1/alarms", headers={"Authorization": f"Bearer {api_token}"})
        assert r.status_code == 200 and r.json()
        alarm_id = r.json()[0]["id"]
        ack = c.post(
            f"/v1/alarms/{alarm_id}/acknowledge", headers={"Authorization": f"Bearer {api_token}"}
        )
        assert ack.status_code == 200
    assert capture.lines, "nothing was logged: the capture is not working"
    return Issued(path, device_id, device_key, gateway_token, api_token, session_cookie, "")


async def _via_gateway(url: str, token: str, items: list[dict[str, object]]) -> list:  # type: ignore[type-arg]
    # httpcore at DEBUG prints every response header, Set-Cookie included: on for the gateway's
    # client (which is what runs in the field with --verbose), not for this test's own login.
    httpcore = logging.getLogger("httpcore")
    saved = httpcore.level, httpcore.propagate
    httpcore.setLevel(logging.DEBUG)
    httpcore.propagate = True
    client = MonitorClient(url, token)
    try:
        return await client.post_frames(items)
    finally:
        await client.aclose()
        httpcore.setLevel(saved[0])
        httpcore.propagate = saved[1]


def _database_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_no_secret_is_stored_in_the_clear(issued: Issued) -> None:
    raw = _database_bytes(issued.db_path)
    assert b"logged-gateway" in raw  # the search does see what the rows hold
    found = [name for name, secret in issued.secrets().items() if secret in raw]
    assert not found, f"found in the database file: {found}"


def test_device_keys_are_sealed_and_bound_to_their_device(issued: Issued) -> None:
    db = sqlite3.connect(issued.db_path)
    sealed = db.execute(
        "SELECT key_sealed FROM devices WHERE id = ?", (issued.device_id,)
    ).fetchone()
    db.close()
    sealed = bytes(sealed[0])
    assert issued.device_key not in sealed and len(sealed) == 12 + 16 + 16  # nonce, key, GCM tag
    box = KeyBox(make_settings("sqlite://").master_key)
    assert box.open(issued.device_id, sealed) == issued.device_key
    with pytest.raises(InvalidTag):
        KeyBox(make_settings("sqlite://").master_key).open(issued.device_id + 1, sealed)
    with pytest.raises(InvalidTag):
        KeyBox("another-master-key-" + "z" * 32).open(issued.device_id, sealed)


def test_tokens_are_stored_as_hashes_and_passwords_as_argon2(issued: Issued) -> None:
    db = sqlite3.connect(issued.db_path)
    gw = {r[0] for r in db.execute("SELECT token_hash FROM gateways")}
    tokens = {r[0] for r in db.execute("SELECT token_hash FROM auth_tokens")}
    users = dict(db.execute("SELECT username, password_hash FROM users").fetchall())
    db.close()
    assert token_hash(issued.gateway_token) in gw and token_hash(GATEWAY_TOKEN) in gw
    assert token_hash(issued.api_token) in tokens and token_hash(issued.session_cookie) in tokens
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in gw | tokens)
    assert users and all(h.startswith("$argon2id$") for h in users.values())


def test_no_secret_reaches_the_logs(issued: Issued) -> None:
    log = issued.log.encode()
    # The capture does hold the access log, SQL with its parameters and the gateway's HTTP client.
    assert b"/v1/frames" in log and b"INSERT INTO" in log and b"send_request_headers" in log
    found = [name for name, secret in issued.secrets().items() if secret in log]
    assert not found, f"found in the logs: {found}"


def test_a_key_or_token_is_shown_once_and_never_read_back(sec: SecEnv) -> None:
    admin = {"Authorization": f"Bearer {sec.creds.admin_api}"}
    r = sec.client.post("/v1/devices", json={"board": "m5stickc-plus2"}, headers=admin)
    key_hex = r.json()["key"]
    device_id = r.json()["device"]["id"]
    token = sec.client.post("/v1/gateways", json={"name": "g"}, headers=admin).json()["token"]
    bodies = []
    for who in (admin, {"Authorization": f"Bearer {sec.creds.operator_api}"}):
        for url in ("/v1/devices", f"/v1/devices/{device_id}", "/v1/gateways", "/v1/users"):
            bodies.append(sec.client.get(url, headers=who).text)
        for url in ("/devices", "/workers", "/"):
            bodies.append(sec.client.get(url, headers=who).text)
    bodies.append(sec.client.get("/openapi.json").text)
    assert len(bodies) == 15 and any("m5stickc-plus2" in b for b in bodies)
    assert not [b for b in bodies if key_hex in b or token in b]
