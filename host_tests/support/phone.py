"""The phone app in Chromium: a fresh phone browser, enrolment, and the operator's side.

`enrol` calls the page's own `enrol.store()` with the seeded gateway token and the seeded
device's id and key: the same function the page runs on the monitor's redeem answer. That, and
nothing else, stands in for `POST /v1/phones/redeem` in tests that are not about enrolment.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from host_tests.support.browser import UI_TIMEOUT_MS
from host_tests.support.monitor import (
    DEVICE_ID,
    DEVICE_KEY,
    GATEWAY_TOKEN,
    OPERATOR_PASSWORD,
    LiveServer,
)
from monitor.models import Worker

WHERE = {"latitude": 51.5072, "longitude": -0.1276, "accuracy": 12}


def new_context(
    browser: Browser, *, located: bool = True, service_worker: bool = True
) -> BrowserContext:
    """A fresh phone browser. Chrome allows Background Sync and the Screen Wake Lock for every
    site unless the user blocks them; a Playwright context given any grant refuses everything
    else, so both are granted here. Location is the worker's choice: granted, or left refused
    (headless Chromium refuses geolocation without a grant). `service_worker=False` is for a
    test that routes the page's requests: Chromium hands a route each request the service
    worker passes on twice, once from the page and once from the worker."""
    grants = ["background-sync", "screen-wake-lock"] + (["geolocation"] if located else [])
    ctx = browser.new_context(
        geolocation=WHERE if located else None,
        permissions=grants,
        service_workers="allow" if service_worker else "block",
    )
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


def open_console(
    browser: Browser, server: LiveServer, username: str = "operator", password: str = ""
) -> Page:
    """The console in its own page, logged in (the operator unless told), its live badge on."""
    console = browser.new_page()
    console.set_default_timeout(UI_TIMEOUT_MS)
    console.goto(server.url + "/login")
    console.fill("input[name=username]", username)
    console.fill("input[name=password]", password or OPERATOR_PASSWORD)
    console.click("button[type=submit]")
    expect(console.locator("#live")).to_have_text("live")
    return console
