"""The phone page relays to the real monitor (uvicorn, SQLite) in Debian's Chromium.

Emulated only by what the browser itself offers: the position (the context's geolocation and
its permission) and the network going away (`context.set_offline`). The page is enrolled with
the seeded gateway token and device key (host_tests/support/phone.py: enrol says how).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from host_tests.support.monitor import ADMIN_PASSWORD, DEVICE_ID, LiveServer
from host_tests.support.phone import WHERE, OperatorStream, Phone, enrol, new_context, open_console
from monitor.models import Alarm, Gateway
from monitor.models import FrameRecord as Frame
from monitor.services.ingest import MAX_BATCH
from protocol import frames
from protocol import relay_batch as rb

pytestmark = pytest.mark.browser

# An alarm must leave at once: well under the page's FIX_TIMEOUT_MS (4 s).
AT_ONCE_S = 1.5


PACKED = "/v1/frames/binary"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def unpack(body: bytes) -> list[dict[str, Any]]:
    """A packed batch (protocol/relay_batch.py) as the monitor reads it, one dict a frame;
    `heard_ms` is base_ms - age_ms, when the phone heard (or signed) the frame."""
    base, records, locations = rb.decode_request(body, MAX_BATCH)
    return [
        {
            "frame": frame.hex(),
            "counter": frames.peek(frame)[2],
            "heard_ms": None if age == rb.AGE_UNKNOWN else base - age,
            "link": rb.LINKS[link],
            "rssi": None if rssi == rb.RSSI_NONE else rssi,
            "location": rb.location_dict(locations[i]) if i in locations else None,
        }
        for i, (frame, age, link, rssi) in enumerate(records)
    ]


def posted(requests: list[Request]) -> list[list[dict[str, Any]]]:
    """The batches the page posted, each as `unpack` reads it. Every one went packed to
    /v1/frames/binary: none as JSON to /v1/frames."""
    batches = []
    for r in requests:
        if r.method == "POST" and "/v1/frames" in r.url:
            assert r.url.endswith(PACKED), f"the page posted to {r.url}"
            assert r.headers["content-type"] == "application/octet-stream"
            batches.append(unpack(r.post_data_buffer or b""))
    return batches


def relayed(requests: list[Request]) -> list[dict[str, Any]]:
    return [item for batch in posted(requests) for item in batch]


def ms(t: dt.datetime) -> int:
    return (t - EPOCH) // dt.timedelta(milliseconds=1)


def stored_counters(live_server: LiveServer) -> list[int]:
    with live_server.app.state.db.session() as s:
        return sorted(f.counter for f in s.query(Frame).filter(Frame.device_id == DEVICE_ID))


def test_phone_sos_reaches_the_operator_stream_with_the_phones_position(
    phone: Phone, live_server: LiveServer, operator_stream: OperatorStream
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
    assert item["rssi"] is None
    # Stored as packed: the position with its source and age, and when the phone signed it.
    with live_server.app.state.db.session() as s:
        row = s.query(Alarm).filter(Alarm.device_id == DEVICE_ID).one()
        record = s.query(Frame).filter(Frame.device_id == DEVICE_ID).one()
    assert row.lat == pytest.approx(WHERE["latitude"])
    assert row.lon == pytest.approx(WHERE["longitude"])
    assert row.accuracy_m == pytest.approx(WHERE["accuracy"])
    assert row.location_source == "phone_gps"
    assert row.location_fix_age_s == item["location"]["fix_age_s"]
    assert record.raw.hex() == item["frame"] and record.link is None and record.rssi is None
    assert ms(record.received_at) == item["heard_ms"]
    assert not row.received_at_clamped


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
    # Chromium may fire the registered sync by itself once back online (CI saw it do so before
    # the test could): with the page closed, only the service worker can have sent it either
    # way. Otherwise the test fires it.
    if stored_counters(live_server) == []:
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


@pytest.fixture
def routed_phone(browser: Browser, live_server: LiveServer) -> Iterator[Phone]:
    """An enrolled phone whose requests the test may route (see new_context): no service worker."""
    ctx = new_context(browser, service_worker=False)
    page = ctx.new_page()
    enrol(page, live_server.url)
    yield Phone(ctx, page)
    ctx.close()


def pending(page: Page) -> list[dict[str, Any]]:
    """The phone's outbox, in the order the relay takes it."""
    items: list[dict[str, Any]] = page.evaluate(
        "async () => (await import('/phone/js/outbox.mjs')).pending()"
    )
    return items


def test_a_body_the_monitor_refuses_goes_frame_by_frame_and_only_the_bad_frame_waits(
    routed_phone: Phone, live_server: LiveServer, operator_stream: OperatorStream
) -> None:
    """A 400 for the whole body (bad_batch) deletes nothing. As gateway/relay.py, the page
    then sends those frames one at a time, so one the monitor cannot read holds up no other: it
    is kept, moved behind the rest and retried alone at the refused pace. Here the monitor
    "cannot read" the second SOS (a route answers 400 for any body that carries it); every
    other body reaches the real monitor."""
    page = routed_phone.page
    online = False
    bodies: list[list[int]] = []

    def monitor(route: Route) -> None:
        if not online:
            route.abort("internetdisconnected")
            return
        counters = [i["counter"] for i in unpack(route.request.post_data_buffer or b"")]
        bodies.append(counters)
        if 2 in counters:
            route.fulfill(status=400, json={"error": "bad_batch", "message": "cannot read it"})
        else:
            route.continue_()

    expect(page.locator("#monitor-state")).to_have_text("monitor reachable")
    routed_phone.ctx.route("**" + PACKED, monitor)
    routed_phone.ctx.set_offline(True)
    for _ in range(3):
        page.click("#sos")
    expect(page.locator("#waiting")).to_have_text("3 waiting to send")
    online = True
    routed_phone.ctx.set_offline(False)
    # Routes are served while Playwright is called (the page is watched), not while the test
    # waits on the operator's stream: the page first, then the stream.
    expect(page.locator("#waiting")).to_have_text("1 waiting to send")
    assert [operator_stream.next_alarm()["kind"] for _ in range(2)] == ["sos", "sos"]
    expect(page.locator("#monitor-state")).to_have_text("monitor reachable")
    assert stored_counters(live_server) == [1, 3]
    # (an attempt as the network came back may come first)
    assert bodies[-4:] == [[1, 2, 3], [1], [2], [3]], bodies
    (held,) = pending(page)
    assert held["counter"] == 2 and held["held"] is True
    assert page.evaluate("[vigil.relay.held, vigil.relay.refusedBatches]") == [1, 2]
    tried = len(bodies)
    page.wait_for_timeout(1000)
    assert len(bodies) == tried  # not retried at once: at the refused pace
    # The monitor can read it again (fixed, upgraded): it goes alone, the next time it is tried.
    routed_phone.ctx.unroute("**" + PACKED)
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r))
    page.reload()
    assert operator_stream.next_alarm()["kind"] == "sos"
    expect(page.locator("#waiting")).to_have_text("nothing waiting")
    assert stored_counters(live_server) == [1, 2, 3]
    assert [[i["counter"] for i in b] for b in posted(sent)] == [[2]]


def test_a_frame_the_page_cannot_pack_is_held_back_and_the_sos_goes(
    phone: Phone, live_server: LiveServer, operator_stream: OperatorStream
) -> None:
    """An outbox record that is not a 20-byte frame (damaged storage, an older app's record)
    cannot be packed. It is kept and held behind the others, never sent in a body, and the SOS
    signed after it leaves at once."""
    page = phone.page
    expect(page.locator("#monitor-state")).to_have_text("monitor reachable")
    page.evaluate(
        """async () => {
            const o = await import('/phone/js/outbox.mjs');
            await o.tx('outbox', 'readwrite', (s) => o.req(s.outbox.add({
                frame: '21'.repeat(19), ftype: 1, device_id: 0, counter: 0, priority: 0,
                received_at: new Date().toISOString(), link: 'ble', rssi: null, location: null,
                committed_ms: Date.now(),
            })));
        }"""
    )
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r))
    page.click("#sos")
    assert operator_stream.next_alarm()["kind"] == "sos"
    expect(page.locator("#waiting")).to_have_text("1 waiting to send")
    assert stored_counters(live_server) == [1]
    (held,) = pending(page)
    assert held["frame"] == "21" * 19 and held["held"] is True
    assert page.evaluate("vigil.relay.held") == 1
    assert [[i["counter"] for i in b] for b in posted(sent)] == [[1]]


def test_a_monitor_without_the_packed_route_gets_the_frames_as_json(
    routed_phone: Phone, live_server: LiveServer, operator_stream: OperatorStream
) -> None:
    """A monitor instance older than /v1/frames/binary (behind the proxy mid-upgrade, or rolled
    back under an open page) answers 404: the page posts the same frames as JSON at once."""
    page = routed_phone.page
    expect(page.locator("#monitor-state")).to_have_text("monitor reachable")
    old_monitor = {"status": 404, "json": {"detail": "Not Found"}}
    routed_phone.ctx.route("**" + PACKED, lambda route: route.fulfill(**old_monitor))
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r))
    t0 = time.monotonic()
    with page.expect_response(lambda r: r.url.endswith("/v1/frames")):  # routes served meanwhile
        page.click("#sos")
    alarm = operator_stream.next_alarm()
    assert time.monotonic() - t0 < AT_ONCE_S
    assert alarm["kind"] == "sos" and alarm["location"]["lat"] == pytest.approx(WHERE["latitude"])
    expect(page.locator("#waiting")).to_have_text("nothing waiting")
    assert stored_counters(live_server) == [1]
    frames_posts = [r for r in sent if r.method == "POST" and "/v1/frames" in r.url]
    assert [r.url.removeprefix(live_server.url) for r in frames_posts] == [PACKED, "/v1/frames"]
    (item,) = json.loads(frames_posts[1].post_data or "")["frames"]
    assert item["location"]["source"] == "phone_gps" and item["link"] is None
