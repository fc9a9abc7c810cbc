"""The phone page relays to the real monitor (uvicorn, SQLite) in Debian's Chromium.

Emulated only by what the browser itself offers: the position (the context's geolocation and
its permission) and the network going away (`context.set_offline`). The page is enrolled with
the seeded gateway token and device key (host_tests/support/phone.py: enrol says how).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Request, expect

from host_tests.support.monitor import ADMIN_PASSWORD, DEVICE_ID, LiveServer
from host_tests.support.phone import WHERE, OperatorStream, Phone, enrol, new_context, open_console
from monitor.models import FrameRecord as Frame
from monitor.models import Gateway

pytestmark = pytest.mark.browser

# An alarm must leave at once: well under the page's FIX_TIMEOUT_MS (4 s).
AT_ONCE_S = 1.5


def relayed(requests: list[Request]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for r in requests:
        if r.url.endswith("/v1/frames") and r.method == "POST" and r.post_data:
            items += json.loads(r.post_data)["frames"]
    return items


def stored_counters(live_server: LiveServer) -> list[int]:
    with live_server.app.state.db.session() as s:
        return sorted(f.counter for f in s.query(Frame).filter(Frame.device_id == DEVICE_ID))


def test_phone_sos_reaches_the_operator_stream_with_the_phones_position(
    phone: Phone, operator_stream: OperatorStream
) -> None:
    sent: list[Request] = []
    phone.page.on("request", lambda r: sent.append(r))
    expect(phone.page.locator("#location-state")).to_have_text("location on")
    phone.page.click("#sos")
    alarm = operator_stream.next_alarm()
    assert alarm["kind"] == "sos"
    assert alarm["device_id"] == DEVICE_ID
    assert alarm["location"]["lat"] == pytest.approx(WHERE["latitude"])
    assert alarm["location"]["lon"] == pytest.approx(WHERE["longitude"])
    assert alarm["location"]["accuracy_m"] == pytest.approx(WHERE["accuracy"])
    expect(phone.page.locator("#waiting")).to_have_text("nothing waiting")
    expect(phone.page.locator("#monitor-state")).to_have_text("monitor reachable")
    (item,) = relayed(sent)  # Playwright delivers request events during its own calls
    assert item["location"]["source"] == "phone_gps"
    assert 0 <= item["location"]["fix_age_s"] < 60
    assert item["link"] is None  # signed by the phone itself, not heard over a link


def test_location_refused_the_alarm_goes_at_once_without_a_position(
    browser: Browser, live_server: LiveServer, operator_stream: OperatorStream
) -> None:
    ctx = new_context(browser, located=False)
    page = ctx.new_page()
    enrol(page, live_server.url)
    t0 = time.monotonic()
    page.click("#sos")
    alarm = operator_stream.next_alarm()
    took = time.monotonic() - t0
    assert alarm["kind"] == "sos"
    assert alarm["location"] is None
    assert took < AT_ONCE_S, f"the alarm waited {took:.2f} s for a position"
    ctx.close()


def test_offline_frames_wait_in_the_outbox_are_shown_and_flush_when_back(
    phone: Phone, live_server: LiveServer, operator_stream: OperatorStream
) -> None:
    page = phone.page
    expect(page.locator("#monitor-state")).to_have_text("monitor reachable")
    phone.ctx.set_offline(True)
    page.click("#sos")
    page.click("#sos")
    expect(page.locator("#waiting")).to_have_text("2 waiting to send")
    expect(page.locator("#monitor-state")).to_have_text("monitor not reachable")
    assert stored_counters(live_server) == []
    phone.ctx.set_offline(False)
    kinds = [operator_stream.next_alarm()["kind"], operator_stream.next_alarm()["kind"]]
    assert kinds == ["sos", "sos"]
    expect(page.locator("#waiting")).to_have_text("nothing waiting")
    assert stored_counters(live_server) == [1, 2]


def test_a_reload_and_a_closed_tab_with_frames_waiting_lose_nothing(
    phone: Phone, live_server: LiveServer, operator_stream: OperatorStream
) -> None:
    page = phone.page
    page.evaluate("navigator.serviceWorker.ready")
    phone.ctx.set_offline(True)
    for _ in range(3):
        page.click("#sos")
    expect(page.locator("#waiting")).to_have_text("3 waiting to send")
    page.reload()  # offline: the service worker serves the shell
    expect(page.locator("#waiting")).to_have_text("3 waiting to send")
    page.close()  # the tab is gone
    page = phone.ctx.new_page()
    phone.ctx.set_offline(False)
    page.goto(live_server.url + "/phone/")
    for _ in range(3):
        assert operator_stream.next_alarm()["kind"] == "sos"
    expect(page.locator("#waiting")).to_have_text("nothing waiting")
    assert stored_counters(live_server) == [1, 2, 3]


def test_service_worker_serves_the_shell_offline(phone: Phone, live_server: LiveServer) -> None:
    page = phone.page
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()  # now controlled by the worker, which has cached the shell
    assert page.evaluate("!!navigator.serviceWorker.controller")
    phone.ctx.set_offline(True)
    page.reload()
    expect(page.locator("#sos")).to_be_visible()
    expect(page.locator("#monitor-state")).to_have_text("monitor not reachable")
    manifest = page.evaluate("async () => (await fetch('/phone/manifest.webmanifest')).json()")
    assert manifest["display"] == "standalone"


def test_a_revoked_phone_keeps_its_frames_queued_and_says_so(
    phone: Phone, live_server: LiveServer
) -> None:
    page = phone.page
    expect(page.locator("#monitor-state")).to_have_text("monitor reachable")
    with httpx.Client(base_url=live_server.url) as admin:
        r = admin.post("/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        with live_server.app.state.db.session() as s:
            gw_id = s.query(Gateway.id).order_by(Gateway.id).first()[0]
        admin.post(f"/v1/gateways/{gw_id}/revoke", headers=csrf).raise_for_status()
    page.click("#sos")
    expect(page.locator("#monitor-state")).to_have_text("phone refused by the monitor")
    expect(page.locator("#refused")).to_contain_text("1 frame(s) are kept on the phone")
    expect(page.locator("#waiting")).to_have_text("1 waiting to send")
    page.reload()
    expect(page.locator("#waiting")).to_have_text("1 waiting to send")
    assert phone.waiting() == 1
    assert stored_counters(live_server) == []
    # Reported: the admin who runs the phones sees the revoked one still trying, frames on it.
    with httpx.Client(base_url=live_server.url) as admin:
        admin.post("/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        listed = {g["id"]: g for g in admin.get("/v1/gateways").json()}
    assert listed[gw_id]["refused_attempts"] >= 1 and listed[gw_id]["refused_at"]
    browser = phone.ctx.browser
    assert browser is not None
    console = open_console(browser, live_server, "admin", ADMIN_PASSWORD)
    console.goto(live_server.url + "/gateways")
    expect(console.locator(f'.still-calling[data-gateway="{gw_id}"]')).to_contain_text(
        "Still trying to send"
    )


def test_background_sync_flushes_the_outbox_with_no_page_open(
    phone: Phone, live_server: LiveServer, operator_stream: OperatorStream
) -> None:
    """The browser's Background Sync, when the network returns, with the phone page closed.
    Chromium decides by itself when to fire a registered sync (connectivity, its own backoff);
    the test fires it the way DevTools' "Background services" panel does, with
    ServiceWorker.dispatchSyncEvent for the tag the page registered. Everything after that is
    the service worker's own code (phone/sw.js): reading the IndexedDB outbox, posting, deleting."""
    page = phone.page
    page.evaluate("navigator.serviceWorker.ready")
    # DevTools on a page outside the app's scope: the phone page itself goes away.
    other = phone.ctx.new_page()
    other.goto(live_server.url + "/login")
    cdp = phone.ctx.new_cdp_session(other)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    phone.ctx.set_offline(True)
    page.click("#sos")
    expect(page.locator("#waiting")).to_have_text("1 waiting to send")
    tags = page.evaluate("async () => (await navigator.serviceWorker.ready).sync.getTags()")
    assert "vigil-outbox" in tags  # the failed send asked the browser for a sync
    page.close()
    phone.ctx.set_offline(False)
    deadline = time.monotonic() + 10
    while not any(r["scopeURL"].endswith("/phone/") for r in registrations):
        assert time.monotonic() < deadline, f"no service worker for /phone/: {registrations}"
        other.wait_for_timeout(50)
    reg = next(r for r in registrations if r["scopeURL"].endswith("/phone/"))
    assert stored_counters(live_server) == []
    cdp.send(
        "ServiceWorker.dispatchSyncEvent",
        {
            "origin": live_server.url,
            "registrationId": reg["registrationId"],
            "tag": "vigil-outbox",
            "lastChance": False,
        },
    )
    alarm = operator_stream.next_alarm()
    assert alarm["kind"] == "sos" and alarm["location_source"] == "phone_gps"
    assert stored_counters(live_server) == [1]
    assert len(phone.ctx.pages) == 1  # only the DevTools page: no phone page did this
    waiting = other.evaluate(
        "() => new Promise((ok, no) => { const r = indexedDB.open('vigil-phone');"
        " r.onsuccess = () => { const t = r.result.transaction('outbox').objectStore('outbox')"
        ".count(); t.onsuccess = () => ok(t.result); t.onerror = () => no(t.error); };"
        " r.onerror = () => no(r.error); })"
    )
    assert waiting == 0  # the worker deleted it once the monitor had answered
