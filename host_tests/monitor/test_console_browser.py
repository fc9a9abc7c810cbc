"""The console in Debian's Chromium (Playwright): log in, see an SOS arrive live, acknowledge,
resolve, read the audit trail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from host_tests.monitor.conftest import (
    ADMIN_PASSWORD,
    OPERATOR_PASSWORD,
    LiveServer,
    gateway_client,
    heartbeat,
    sos,
)

pytestmark = pytest.mark.browser

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make setup` (apt installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def test_operator_sees_sos_live_acknowledges_resolves_and_reads_audit_trail(
    browser: Browser, live_server: LiveServer
) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile("/login$"))
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", OPERATOR_PASSWORD)
    page.click("button[type=submit]")
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
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", OPERATOR_PASSWORD)
    page.click("button[type=submit]")
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
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
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


def test_console_goes_to_login_when_its_session_is_logged_out_elsewhere(
    browser: Browser, live_server: LiveServer
) -> None:
    """Finding 3 (issue 11), as an operator sees it: the live stream ends once the session is
    logged out (here from another client holding the same cookie), and the page says so and
    goes to the login page instead of reconnecting into 401s."""
    import httpx

    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", OPERATOR_PASSWORD)
    page.click("button[type=submit]")
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
