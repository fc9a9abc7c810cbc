"""Visits from the phone, in Debian's Chromium against the real monitor (uvicorn, SQLite).

The phone signs CHECKIN_START with its own key, posts the memo, counts down, reminds before the
visit is due, and ends it with CHECKIN_STOP. The overdue alarm is raised by the monitor's own
supervision (`supervision.supervise`) called with a clock past the due time, as the scheduler
would an hour later: that clock, the browser's fake timers (Playwright `clock`, for the
reminder) and the context's geolocation are the only things emulated.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Browser, expect

from host_tests.support.monitor import LiveServer
from host_tests.support.phone import OperatorStream, create_enrolment, new_context
from monitor.models import Device, FrameRecord, PhoneEnrolment
from monitor.services import supervision
from protocol import frame_types as ft

pytestmark = pytest.mark.browser


def phone_device(live_server: LiveServer, enrolment_id: int) -> Device:
    with live_server.app.state.db.session() as s:
        e = s.get(PhoneEnrolment, enrolment_id)
        assert e is not None and e.gateway_id is not None
        d = s.query(Device).filter(Device.board == "phone").order_by(Device.id.desc()).first()
        assert d is not None
        s.expunge(d)
        return d


def frame_types(live_server: LiveServer, device_id: int) -> list[int]:
    with live_server.app.state.db.session() as s:
        q = s.query(FrameRecord).filter(FrameRecord.device_id == device_id)
        return [f.ftype for f in q.order_by(FrameRecord.counter)]


def test_a_visit_left_to_run_out_raises_the_checkin_alarm_with_its_memo(
    browser: Browser, live_server: LiveServer, operator_stream: OperatorStream
) -> None:
    enrolment = create_enrolment(live_server)
    ctx = new_context(browser)
    page = ctx.new_page()
    page.goto(live_server.url + enrolment["url"])
    expect(page.locator("#location-state")).to_have_text("location on")
    page.fill("input[name=where]", "14 Elm Road")
    page.fill("input[name=with]", "Mr Jones")
    page.select_option("#minutes", "5")
    page.click("#start-visit")
    expect(page.locator("#visit-running")).to_be_visible()
    expect(page.locator("#visit-where")).to_have_text("14 Elm Road with Mr Jones")
    expect(page.locator("#countdown")).to_contain_text("min")
    expect(page.locator("#waiting")).to_have_text("nothing waiting")
    dev = phone_device(live_server, enrolment["id"])
    page.wait_for_function(
        "async () => (await (await import('/phone/js/outbox.mjs')).get('visit')).memo_sent"
    )
    with live_server.app.state.db.session() as s:
        d = s.get(Device, dev.id)
        assert d is not None and d.checkin_due_at is not None
        assert (d.visit_where, d.visit_with) == ("14 Elm Road", "Mr Jones")
        due = d.checkin_due_at
    assert frame_types(live_server, dev.id) == [ft.CHECKIN_START]
    # The phone is gone (flat, smashed): the monitor's timer raises the alarm by itself.
    ctx.close()
    with live_server.app.state.db.session() as s:
        raised = supervision.supervise(
            s, live_server.app.state.settings, now=due + dt.timedelta(seconds=1)
        )
        s.commit()
    assert raised
    alarm = operator_stream.next_alarm()
    assert alarm["kind"] == "checkin_overdue"
    assert alarm["visit"] == {"where": "14 Elm Road", "with": "Mr Jones"}
    assert alarm["location_source"] == "phone_gps"  # the position shared when it started


def test_reminder_before_due_then_extend_then_im_safe_ends_the_visit(
    browser: Browser, live_server: LiveServer
) -> None:
    enrolment = create_enrolment(live_server)
    ctx = new_context(browser)
    page = ctx.new_page()
    page.clock.install()
    page.goto(live_server.url + enrolment["url"])
    expect(page.locator("#monitor-state")).to_have_text("monitor reachable")
    page.fill("input[name=where]", "Surgery, Town Hall")
    page.select_option("#minutes", "5")
    page.click("#start-visit")
    expect(page.locator("#visit-running")).to_be_visible()
    expect(page.locator("#reminder")).to_be_hidden()
    page.clock.run_for("04:05")  # a 5-minute visit is reminded 1 minute before it is due
    expect(page.locator("#reminder")).to_be_visible()
    expect(page.locator("#reminder")).to_contain_text("due soon")
    page.select_option("#extend-min", "30")
    page.click("#extend")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^(29|30) min"))
    expect(page.locator("#reminder")).to_be_hidden()
    page.click("#safe")
    expect(page.locator("#visit-form")).to_be_visible()
    expect(page.locator("#waiting")).to_have_text("nothing waiting")
    dev = phone_device(live_server, enrolment["id"])
    assert frame_types(live_server, dev.id) == [ft.CHECKIN_START, ft.CHECKIN_START, ft.CHECKIN_STOP]
    with live_server.app.state.db.session() as s:
        d = s.get(Device, dev.id)
        assert d is not None and d.checkin_due_at is None
    ctx.close()


def test_a_visit_keeps_the_screen_on_until_the_worker_is_safe(
    browser: Browser, live_server: LiveServer
) -> None:
    """The Screen Wake Lock, Chromium's own: held while a visit runs, so Chrome does not throttle
    or freeze the page behind a locked screen; given back at "I'm safe"."""
    enrolment = create_enrolment(live_server)
    ctx = new_context(browser)
    page = ctx.new_page()
    page.goto(live_server.url + enrolment["url"])
    expect(page.locator("#monitor-state")).to_have_text("monitor reachable")
    assert page.evaluate("vigil.wakeLock") is None
    page.fill("input[name=where]", "12 Elm Road")
    page.select_option("#minutes", "30")
    page.click("#start-visit")
    expect(page.locator("#wakelock")).to_have_text("screen kept on")
    assert page.evaluate("vigil.wakeLock.type === 'screen' && !vigil.wakeLock.released")
    page.click("#safe")
    expect(page.locator("#visit-form")).to_be_visible()
    page.wait_for_function("vigil.wakeLock === null")
    ctx.close()
