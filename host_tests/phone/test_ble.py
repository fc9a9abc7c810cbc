"""The fob path through Web Bluetooth: the real firmware (firmware/fob.py on the simulated board,
hardware/sim/board.py) behind an emulated peripheral in Debian's Chromium, the phone page, the
real monitor (uvicorn, SQLite) and the operator console.

What is emulated, and why, is in devstack/web_bluetooth.py's docstring: the radio (Chromium's
BluetoothEmulation domain, with the firmware's link interface behind it) and notifications
(delivered as served reads, since the domain cannot push one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from devstack.web_bluetooth import WEB_BLUETOOTH, Fob, Radio
from host_tests.support.browser import chromium
from host_tests.support.monitor import DEVICE_ID, DEVICE_KEY, LiveServer
from host_tests.support.phone import OperatorStream, create_enrolment, new_context, open_console
from protocol import frame_types as ft

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(*WEB_BLUETOOTH) as b:
        yield b


@pytest.fixture
def fob(tmp_path: Path) -> Iterator[Fob]:
    f = Fob(tmp_path / "flash", DEVICE_ID, DEVICE_KEY)
    yield f
    f.stop()


@dataclass
class Paired:
    ctx: BrowserContext
    page: Page
    radio: Radio


@pytest.fixture
def paired(browser: Browser, live_server: LiveServer, fob: Fob) -> Iterator[Paired]:
    """A phone enrolled through the console's QR URL, its fob paired by the worker's tap."""
    enrolment = create_enrolment(live_server)
    ctx = new_context(browser)
    page = ctx.new_page()
    radio = Radio(browser.new_browser_cdp_session(), ctx.new_cdp_session(page), fob)
    page.goto(live_server.url + enrolment["url"])
    expect(page.locator("#fob-state")).to_have_text("no fob paired")
    page.click("#pair")
    expect(page.locator("#fob-state")).to_have_text("fob connected")
    assert fob.link.up
    radio.settle(page)  # the fob's boot report, acked
    yield Paired(ctx, page, radio)
    ctx.close()
    radio.close()


def test_fob_sos_through_the_phone_reaches_the_console_and_help_reaches_the_fob(
    browser: Browser,
    live_server: LiveServer,
    operator_stream: OperatorStream,
    fob: Fob,
    paired: Paired,
) -> None:
    console = open_console(browser, live_server)
    page, radio = paired.page, paired.radio

    fob.sos()
    seen = radio.deliver_until(page, ft.SOS)
    assert [t for _at, t in seen] == [ft.SOS]
    alarm = operator_stream.next_alarm()
    assert alarm["kind"] == "sos" and alarm["device_id"] == DEVICE_ID
    assert alarm["location_source"] == "phone_gps" and alarm["link"] == "ble"
    # The operator's console, in Chromium: the fob's SOS with where the phone says it is.
    card = console.locator(".alarm").first
    expect(card).to_contain_text("SOS")
    expect(card).to_contain_text(re.compile(r"phone GPS ±12 m"))
    # The monitor's signed acks went back through the page's writes; the fob verified them
    # with its key and emptied its outbox.
    radio.settle(page)
    expect(page.locator("#waiting")).to_have_text("nothing waiting")

    card.click()
    console.click("#ack")
    expect(console.locator("#status")).to_have_text("acknowledged")
    radio.wait_for_pattern(page, "help_coming")
    console.close()


def test_the_phone_reconnects_by_itself_when_the_fob_comes_back_in_range(
    operator_stream: OperatorStream, fob: Fob, paired: Paired
) -> None:
    """Reconnect on disconnect: the emulated peripheral drops the link
    (BluetoothEmulation.simulateGATTDisconnection), Chromium fires gattserverdisconnected, and
    the page reconnects with its backoff, with no tap. An SOS then goes through."""
    page, radio = paired.page, paired.radio
    page.evaluate(
        "() => { window.states = [];"
        " vigil.fob.addEventListener('state', () => states.push(vigil.fob.connected)); }"
    )
    radio.disconnect()
    page.wait_for_function("states.join() === 'false,true'")  # lost, then back by itself
    expect(page.locator("#fob-state")).to_have_text("fob connected")
    assert radio.connections == 2 and fob.link.up
    # Count the page's frame handler calls: one per notification, not one per connection made.
    page.evaluate(
        "() => { window.calls = 0; const f = vigil.fob._frame.bind(vigil.fob);"
        " vigil.fob._frame = (v) => { calls += 1; return f(v); }; }"
    )
    delivered = radio.delivered
    fob.sos()
    radio.deliver_until(page, ft.SOS)
    assert operator_stream.next_alarm()["device_id"] == DEVICE_ID
    radio.settle(page)
    assert page.evaluate("calls") == radio.delivered - delivered


def test_a_reopened_page_reconnects_to_its_fob_without_the_worker(
    operator_stream: OperatorStream, fob: Fob, paired: Paired
) -> None:
    """getDevices() after a reload: the page finds the fob it was given and connects with no
    tap and no chooser. Chromium tears the emulated adapter down on navigation, so the test
    builds the same peripheral again after the reload (Radio.after_navigation): to the page
    this is the fob out of reach while it opened, then back in range."""
    page, radio = paired.page, paired.radio
    prompts = len(radio.prompts)
    page.reload()
    radio.after_navigation()
    expect(page.locator("#fob-state")).to_have_text("fob connected")
    assert len(radio.prompts) == prompts  # no chooser shown
    fob.sos()
    radio.deliver_until(page, ft.SOS)
    alarm = operator_stream.next_alarm()
    assert alarm["device_id"] == DEVICE_ID and alarm["link"] == "ble"
