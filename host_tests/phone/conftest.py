"""Phone app fixtures: Debian's Chromium (Playwright) on the real monitor under uvicorn.

The page is enrolled by calling its own `enrol.store()` with the seeded gateway token and the
seeded device's id and key: the same function the page runs on the monitor's redeem answer.
That, and nothing else, stands in for `POST /v1/phones/redeem` (built on branch p12-monitor)
in tests that are not about enrolment.
"""

from __future__ import annotations

import json
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy import select

from devstack.localstack import free_port
from host_tests.monitor.conftest import (  # noqa: F401 - fixtures used by this package
    ARGS,
    CHROMIUM,
    DEVICE_ID,
    DEVICE_KEY,
    GATEWAY_TOKEN,
    OPERATOR_PASSWORD,
    UI_TIMEOUT_MS,
    LiveServer,
    make_settings,
    sqlite_template,
)
from monitor.api.main import create_app
from monitor.models import Worker
from monitor.seed import Seeded

WHERE = {"latitude": 51.5072, "longitude": -0.1276, "accuracy": 12}


GRACE_S = 1.0  # open long polls and streams are cut after this at shutdown


@pytest.fixture
def live_server(
    tmp_path: Path,
    sqlite_template: tuple[Path, Seeded],  # noqa: F811 - the imported fixture
) -> Iterator[LiveServer]:
    """host_tests/monitor/conftest.py's live server, but shut down without waiting for the
    phone's long poll (25 s) and the operator's stream to end by themselves."""
    shutil.copy(sqlite_template[0], tmp_path / "vigil.db")
    app = create_app(make_settings(f"sqlite:///{tmp_path}/vigil.db"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not t.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield LiveServer(app, f"http://127.0.0.1:{port}")
    server.should_exit = True
    t.join(GRACE_S)
    server.force_exit = True
    t.join(10)
    app.state.db.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make setup` (apt installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def new_context(browser: Browser, *, located: bool = True) -> BrowserContext:
    """A fresh phone browser. Chrome allows Background Sync and the Screen Wake Lock for every
    site unless the user blocks them; a Playwright context given any grant refuses everything
    else, so both are granted here. Location is the worker's choice: granted, or left refused
    (headless Chromium refuses geolocation without a grant)."""
    grants = ["background-sync", "screen-wake-lock"] + (["geolocation"] if located else [])
    ctx = browser.new_context(geolocation=WHERE if located else None, permissions=grants)
    ctx.set_default_timeout(UI_TIMEOUT_MS)
    return ctx


def enrol(page: Page, url: str, token: str = GATEWAY_TOKEN) -> None:
    page.goto(url + "/phone/")
    page.evaluate(
        """async (a) => { const m = await import('/phone/js/enrol.mjs'); await m.store(a); }""",
        {
            "gateway_token": token,
            "gateway_id": 1,
            "worker": {"id": 1, "name": "Sam Rivera"},
            "device": {"id": DEVICE_ID, "key": DEVICE_KEY.hex()},
        },
    )
    page.reload()
    page.wait_for_selector("#sos:visible")


@dataclass
class Phone:
    ctx: BrowserContext
    page: Page

    def waiting(self) -> int:
        return int(self.page.evaluate("async () => (await import('/phone/js/outbox.mjs')).count()"))


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[Phone]:
    ctx = new_context(browser)
    page = ctx.new_page()
    enrol(page, live_server.url)
    yield Phone(ctx, page)
    ctx.close()


class OperatorStream:
    """The operator console's live stream (GET /v1/alarms/stream) read by a logged-in operator
    in a thread, as the console's EventSource reads it."""

    def __init__(self, url: str) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client = httpx.Client(base_url=url, timeout=httpx.Timeout(10, read=None))
        r = self.client.post(
            "/v1/auth/login", json={"username": "operator", "password": OPERATOR_PASSWORD}
        )
        r.raise_for_status()
        self.csrf = r.json()["csrf_token"]
        self.hello = threading.Event()
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.hello.wait(10), "the operator stream did not open"

    def _run(self) -> None:
        try:
            self._read()
        except httpx.HTTPError:
            pass  # the server went away at the end of the test

    def _read(self) -> None:
        with self.client.stream("GET", "/v1/alarms/stream") as r:
            event = None
            for line in r.iter_lines():
                if self._stop:
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                    if event == "hello":
                        self.hello.set()
                elif line.startswith("data:") and event == "alarm":
                    self.events.put(json.loads(line[5:]))

    def next_alarm(self, timeout: float = 10) -> dict[str, Any]:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        self._stop = True
        self.client.close()


@pytest.fixture
def operator_stream(live_server: LiveServer) -> Iterator[OperatorStream]:
    s = OperatorStream(live_server.url)
    yield s
    s.close()


def create_enrolment(server: LiveServer) -> dict[str, Any]:
    """What an operator does in the console: a one-time code and QR for the seeded worker."""
    with server.app.state.db.session() as s:
        worker = s.scalars(select(Worker.id).order_by(Worker.id)).first()
    with httpx.Client(base_url=server.url) as op:
        r = op.post("/v1/auth/login", json={"username": "operator", "password": OPERATOR_PASSWORD})
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        r = op.post("/v1/phones/enrolments", json={"worker_id": worker}, headers=csrf)
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body


def open_console(browser: Browser, server: LiveServer) -> Page:
    """The operator console in its own page, logged in, its live badge on."""
    console = browser.new_page()
    console.set_default_timeout(UI_TIMEOUT_MS)
    console.goto(server.url + "/login")
    console.fill("input[name=username]", "operator")
    console.fill("input[name=password]", OPERATOR_PASSWORD)
    console.click("button[type=submit]")
    expect(console.locator("#live")).to_have_text("live")
    return console
