"""The console in Debian's Chromium (Playwright): log in, see an SOS arrive live, acknowledge,
resolve, read the audit trail."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from host_tests.support.browser import UI_TIMEOUT_MS
from host_tests.support.monitor import (
    ADMIN_PASSWORD,
    OPERATOR_PASSWORD,
    LiveServer,
    gateway_client,
    heartbeat,
    sos,
)
from monitor.models import Alarm
from protocol import frame_types as ft
from protocol import frames

pytestmark = pytest.mark.browser


def log_in(
    page: Page, url: str, username: str, go: bool = True, password: str | None = None
) -> None:
    """Through the login form, as a person would; a seeded user's password unless given."""
    if go:
        page.goto(url + "/login")
    seeded = ADMIN_PASSWORD if username == "admin" else OPERATOR_PASSWORD
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", seeded if password is None else password)
    page.click("button[type=submit]")


def test_operator_sees_sos_live_acknowledges_resolves_and_reads_audit_trail(
    browser: Browser, live_server: LiveServer
) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile("/login$"))
    log_in(page, live_server.url, "operator", go=False)
    expect(page.locator("h1")).to_have_text("Alarm queue")
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.__noReload = true")

    with gateway_client(live_server.url) as gw:
        gw.post(
            "/v1/frames",
            json={
                "frames": [
                    heartbeat(1),
                    sos(2, age_s=4, location={"lat": 51.5072, "lon": -0.1276, "accuracy_m": 12}),
                ]
            },
        ).raise_for_status()

    card = page.locator(".alarm").first
    expect(card).to_contain_text("SOS")
    expect(card).to_contain_text("Sam Rivera")
    expect(card).to_contain_text("open")
    expect(card.locator(".since")).to_have_text(re.compile(r"^\d+ s$"))
    # Pushed over SSE: the page was never reloaded.
    assert page.evaluate("window.__noReload") is True

    card.click()
    expect(page.locator("h1")).to_contain_text("Alarm #")
    expect(page.get_by_text("inhaler", exact=False)).to_be_visible()
    page.click("#ack")
    expect(page.locator("#status")).to_have_text("acknowledged")
    page.select_option("select[name=outcome]", "worker_safe")
    page.fill("textarea[name=notes]", "Called Sam: tenant calmed down, leaving the property.")
    page.click("#resolve button[type=submit]")
    expect(page.locator("#status")).to_have_text("resolved")
    trail = page.locator("#timeline")
    expect(trail).to_contain_text("raised")
    expect(trail).to_contain_text("acknowledged")
    expect(trail).to_contain_text("by user:operator")
    expect(trail).to_contain_text("resolved")
    expect(trail).to_contain_text("tenant calmed down")

    page.goto(live_server.url + "/devices")
    expect(page.locator("table.grid").first).to_contain_text("80 %")
    page.close()


def test_queue_catches_up_on_alarms_raised_while_the_stream_was_down(
    browser: Browser, live_server: LiveServer
) -> None:
    page = browser.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    # The network to the stream is down from the start; the rest of the page loads.
    page.route("**/v1/alarms/stream", lambda route: route.abort())
    log_in(page, live_server.url, "operator")
    expect(page.locator("h1")).to_have_text("Alarm queue")
    expect(page.locator("#live")).to_have_text("reconnecting…")
    with gateway_client(live_server.url) as gw:
        gw.post("/v1/frames", json={"frames": [sos(40)]}).raise_for_status()
    page.wait_for_timeout(500)
    expect(page.locator(".alarm")).to_have_count(0)  # raised during the outage: not pushed
    page.unroute("**/v1/alarms/stream")
    # EventSource reconnects by itself; the queue then reloads what it missed.
    expect(page.locator("#live")).to_have_text("live", timeout=20_000)
    expect(page.locator(".alarm")).to_have_count(1)
    expect(page.locator(".alarm").first).to_contain_text("SOS")
    page.close()


def test_admin_provisions_a_fob_and_sees_its_key_once(
    browser: Browser, live_server: LiveServer
) -> None:
    page = browser.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    log_in(page, live_server.url, "admin")
    page.goto(live_server.url + "/devices")
    page.select_option("#provision select[name=worker_id]", label="Sam Rivera")
    page.click("#provision button[type=submit]")
    key = page.locator("#new-key-hex")
    expect(key).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    shown = key.text_content()
    assert shown
    page.reload()
    expect(page.locator("table.grid").first).to_contain_text("Sam Rivera")
    assert shown not in page.content()  # never again
    page.close()


# -- issue 11, finding 1 and 5: no stored value blinds the console -----------------------------

# Text an admin can still store for a worker, each aimed at a way the queue page could break:
# the attribute the initial alarms sit in, the card's HTML, template syntax, and the browser's
# text handling.
HOSTILE_TEXT = [
    '<img src=x onerror="window.__xss=1">',
    "'; window.__xss=1; '",
    "</script><script>window.__xss=1</script>",
    "${window.__xss=1}",
    "{{ 7*7 }}",
    "\u202eesrever\u202c RTL override",
    "👩🏽‍⚕️ nurse " + "x" * 100,
]


@contextlib.contextmanager
def _admin(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post("/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        r.raise_for_status()
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        yield c


def _fob_for(admin: httpx.Client, name: str) -> tuple[int, bytes]:
    r = admin.post(
        "/v1/workers",
        json={"name": name, "phone": name[:40], "team": name[:80], "risk_notes": name},
    )
    assert r.status_code == 201, r.text
    d = admin.post("/v1/devices", json={"board": "sim", "worker_id": r.json()["id"]})
    assert d.status_code == 201, d.text
    return d.json()["device"]["id"], bytes.fromhex(d.json()["key"])


def _signed_sos(device_id: int, key: bytes, counter: int, **item: Any) -> dict[str, Any]:
    frame = frames.encode(ft.SOS, device_id, counter, (0x80 | 50, 0, 65535), key)
    return {
        "frame": frame.hex(),
        "received_at": dt.datetime.now(dt.UTC).isoformat(),
        "link": "ble",
        **item,
    }


def test_finding_1_hostile_values_never_blind_the_queue_and_new_alarms_still_arrive_live(
    browser: Browser, live_server: LiveServer
) -> None:
    """Every hostile value the API can still store, plus rows as the old ingest stored them.

    The legacy rows (infinite and NaN positions, a battery of -5 %, a year-1 time) are written
    straight into the database: ingest now refuses those values, but a database from before the
    fix may hold them, and the console must survive its own history.
    """
    day = dt.timedelta(days=1)
    with _admin(live_server.url) as admin, gateway_client(live_server.url) as gw:
        batch = []
        for i, text in enumerate(HOSTILE_TEXT):
            device_id, key = _fob_for(admin, text)
            batch.append(
                _signed_sos(
                    device_id,
                    key,
                    1,
                    location={"lat": -90.0, "lon": 180.0, "accuracy_m": 100_000.0},
                )
            )
            if i == 0:
                batch.append(_signed_sos(device_id, key, 2, received_at="2001-09-09T01:46:40Z"))
                batch.append(
                    _signed_sos(
                        device_id,
                        key,
                        3,
                        received_at=(dt.datetime.now(dt.UTC) - 3 * day).isoformat(),
                    )
                )
                batch.append(_signed_sos(device_id, key, 4, location={"lat": 1e999, "lon": 0}))
        body = json.dumps({"frames": batch})  # Infinity, as a hostile gateway can write it
        r = gw.post("/v1/frames", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 200 and all(x["status"] == "accepted" for x in r.json()["results"])
    db = live_server.app.state.db
    with db.session() as s:
        ancient = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
        for lat, lon, acc in (
            (float("inf"), float("-inf"), 5.0),
            (float("nan"), 0.0, None),
            (51.5, -0.1, float("inf")),
            (400.0, 900.0, -3.0),
        ):
            s.add(
                Alarm(
                    kind="sos",
                    priority=0,
                    status="open",
                    raised_at=ancient,
                    received_at=ancient,
                    stored_at=ancient,
                    lat=lat,
                    lon=lon,
                    accuracy_m=acc,
                    battery_pct=-5,
                    device_id=None,
                    worker_id=None,
                )
            )
    expected = len(batch) + 4

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, live_server.url, "operator")
    expect(page.locator("h1")).to_have_text("Alarm queue")
    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator(".alarm")).to_have_count(expected)
    expect(page.locator("#counts")).to_have_text(f"{expected} open · 0 acknowledged")
    queue = page.locator("#queue")
    expect(queue).to_contain_text("gateway's time not believed")  # the 2001 one, clamped
    expect(queue).to_contain_text(str((dt.datetime.now(dt.UTC) - 3 * day).year))  # has a date
    expect(queue).to_contain_text("reported by gateway")
    for text in HOSTILE_TEXT[4:]:
        expect(queue).to_contain_text(text[:20])  # shown as text, not interpreted
    assert page.evaluate("window.__xss") is None
    assert errors == []

    # And the queue is still alive: a new SOS arrives over the stream, no reload.
    page.evaluate("window.__noReload = true")
    with gateway_client(live_server.url) as gw:
        gw.post("/v1/frames", json={"frames": [sos(90)]}).raise_for_status()
    expect(page.locator(".alarm")).to_have_count(expected + 1)
    expect(page.locator(".alarm", has_text="Sam Rivera")).to_have_count(1)
    assert page.evaluate("window.__noReload") is True

    # The detail page of a clamped alarm says whose clock is whose.
    page.locator(".alarm", has_text="gateway's time not believed").first.click()
    expect(page.locator("#alarm")).to_contain_text("the gateway's time was not believed")
    expect(page.locator("#alarm")).to_contain_text("Received by the monitor")
    assert errors == []
    page.close()


def test_console_goes_to_login_when_its_session_is_logged_out_elsewhere(
    browser: Browser, live_server: LiveServer
) -> None:
    """Finding 3 (issue 11), as an operator sees it: the live stream ends once the session is
    logged out (here from another client holding the same cookie), and the page says so and
    goes to the login page instead of reconnecting into 401s."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    log_in(page, live_server.url, "operator")
    expect(page.locator("#live")).to_have_text("live")
    cookie = {c["name"]: c["value"] for c in context.cookies()}
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    r = httpx.post(
        live_server.url + "/v1/auth/logout", cookies=cookie, headers={"X-CSRF-Token": csrf or ""}
    )
    assert r.status_code == 204
    # One re-check interval (5 s by default) and the page has left the queue.
    expect(page).to_have_url(re.compile("/login$"), timeout=15_000)
    context.close()
