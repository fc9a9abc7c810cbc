"""Enrolment and the phone's own SOS end to end, in Debian's Chromium against the real monitor
(uvicorn, SQLite): an operator creates an enrolment, the phone opens the QR's URL and redeems
it, its own SOS (signed in the page with the key it was given) reaches the operator console
(a second Chromium page) with the phone's position, the operator acknowledges, and the phone
shows "help is coming" from the ACK_HELP its long poll brought and its own key verified.

Emulated: the position (the browser context's geolocation and permission), nothing else.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from host_tests.support.monitor import LiveServer
from host_tests.support.phone import OperatorStream, create_enrolment, new_context, open_console
from monitor.models import Gateway, PhoneEnrolment

pytestmark = pytest.mark.browser


def test_enrolled_phone_sos_reaches_the_console_with_phone_gps_and_help_comes_back(
    browser: Browser, live_server: LiveServer
) -> None:
    enrolment = create_enrolment(live_server)
    assert "<svg" in enrolment["qr_svg"]
    console = open_console(browser, live_server)

    ctx = new_context(browser)
    phone = ctx.new_page()
    phone.goto(live_server.url + enrolment["url"])
    expect(phone.locator("#message")).to_contain_text("Enrolled for")
    assert "#code" not in phone.url  # the single-use code leaves the address bar and history
    expect(phone.locator("#sos")).to_be_visible()
    # The key is a CryptoKey the page cannot read back.
    assert phone.evaluate(
        "async () => { const k = await (await import('/phone/js/outbox.mjs')).get('device_key');"
        " return [k instanceof CryptoKey, k.extractable]; }"
    ) == [True, False]
    expect(phone.locator("#location-state")).to_have_text("location on")
    expect(phone.locator("#monitor-state")).to_have_text("monitor reachable")
    # Its health report: listed in the console with app version and phone battery.
    deadline = time.monotonic() + 10
    while True:
        with live_server.app.state.db.session() as s:
            g = s.scalars(select(Gateway).where(Gateway.kind == "phone")).one()
            if g.version == "phone-0.1.0":
                assert g.battery_pct is not None and 0 <= g.battery_pct <= 100
                break
        assert time.monotonic() < deadline, "no health report from the phone"
        time.sleep(0.1)

    phone.click("#sos")
    card = console.locator(".alarm").first
    expect(card).to_contain_text("SOS")
    expect(card).to_contain_text(re.compile(r"phone GPS ±12 m"))
    card.click()
    console.click("#ack")
    expect(console.locator("#status")).to_have_text("acknowledged")
    expect(phone.locator("#help")).to_be_visible(timeout=15_000)
    expect(phone.locator("#help")).to_contain_text("Help is coming")
    ctx.close()
    console.close()


@pytest.mark.parametrize(
    ("spoil", "code", "words"),
    [
        ("unknown", "enrolment_unknown", "not known"),
        ("used", "enrolment_used", "already been used"),
        ("expired", "enrolment_expired", "expired"),
    ],
)
def test_a_bad_code_says_why_and_enrols_nothing(
    browser: Browser, live_server: LiveServer, spoil: str, code: str, words: str
) -> None:
    enrolment = create_enrolment(live_server)
    url = enrolment["url"]
    if spoil == "unknown":
        url = "/phone/#code=NOPE-NOPE-NOPE"
    elif spoil == "used":
        r = httpx.post(
            live_server.url + "/v1/phones/redeem",
            json={"code": enrolment["code"], "app_version": "test"},
        )
        assert r.status_code == 201
    else:
        with live_server.app.state.db.session() as s:
            row = s.get(PhoneEnrolment, enrolment["id"])
            assert row is not None
            row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            s.commit()
    ctx = new_context(browser)
    phone = ctx.new_page()
    phone.goto(live_server.url + url)
    err = phone.locator("#enrol-error")
    expect(err).to_contain_text(words)
    assert err.get_attribute("data-code") == code
    expect(phone.locator("#enrol")).to_be_visible()
    expect(phone.locator("#sos")).to_be_hidden()
    assert (
        phone.evaluate("async () => (await import('/phone/js/outbox.mjs')).get('credential')")
        is None
    )
    ctx.close()


def test_operator_stream_names_the_phone_as_the_source(
    browser: Browser, live_server: LiveServer, operator_stream: OperatorStream
) -> None:
    enrolment = create_enrolment(live_server)
    ctx = new_context(browser)
    phone = ctx.new_page()
    phone.goto(live_server.url + enrolment["url"])
    expect(phone.locator("#location-state")).to_have_text("location on")
    phone.click("#sos")
    alarm = operator_stream.next_alarm()
    assert alarm["kind"] == "sos"
    assert alarm["location_source"] == "phone_gps"
    assert 0 <= alarm["location_fix_age_s"] < 60
    ctx.close()
