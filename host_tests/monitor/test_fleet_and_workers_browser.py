"""Workers and fobs in Debian's Chromium (Playwright) against uvicorn, as the security office
uses them: add a worker, give them a spare fob, swap it for another spare, send the fob a slower
heartbeat from the settings form (and see no false "device offline"), keep the escalation ladder
and the risk assessment, and be prompted for a follow-up after an incident. A supervisor cannot
open another team's alarm or worker; an operator cannot open the risk reviews."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from host_tests.monitor.test_console_browser import log_in
from host_tests.support.browser import UI_TIMEOUT_MS
from host_tests.support.monitor import (
    OPERATOR_PASSWORD,
    LiveServer,
    frame_item,
    gateway_client,
)
from monitor.models import Alarm, Team, User, Worker
from monitor.services import auth, incidents, provisioning, scope, supervision
from protocol import frame_types as ft

pytestmark = pytest.mark.browser

FIRST, SECOND = 21, 22


def _spares(live: LiveServer) -> dict[int, bytes]:
    """Two fobs on the shelf, with the keys the test plays their frames with."""
    keys = {}
    with live.app.state.db.session() as s:
        for n in (FIRST, SECOND):
            _, keys[n] = provisioning.provision_device(
                s, live.app.state.keybox, "system", board="m5stickc-plus2", device_id=n
            )
        s.commit()
    return keys


def _page(browser: Browser, live: LiveServer, user: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("dialog", lambda d: d.accept())
    log_in(page, live.url, user)
    expect(page.locator("h1")).to_have_text("Alarm queue")
    return page


def test_a_spare_is_allocated_swapped_and_slowed_without_a_false_offline_alarm(
    browser: Browser, live_server: LiveServer
) -> None:
    keys = _spares(live_server)
    page = _page(browser, live_server, "admin")
    url = live_server.url

    page.goto(url + "/workers")
    page.fill("#new-worker input[name=name]", "Priya Shah")
    page.fill("#new-worker input[name=job_title]", "Ward councillor")
    page.select_option("#new-worker select[name=team]", "Housing visits")
    page.click("#new-worker button[type=submit]")
    expect(page).to_have_url(re.compile(r"/workers/\d+$"))
    expect(page.locator("h1")).to_have_text("Priya Shah")
    expect(page.locator("#fobs")).to_contain_text("No fob")

    page.goto(url + "/devices")
    expect(page.locator("#spare-count")).to_have_text("2 spares in the pool")
    page.click(f"#fleet a[href='/devices/{FIRST}']")
    page.select_option("#assign select[name=worker_id]", label="Priya Shah · Housing visits")
    page.click("#assign button[type=submit]")
    expect(page.locator("#state")).to_contain_text("Priya Shah")
    page.goto(url + "/devices")
    expect(page.locator("#spare-count")).to_have_text("1 spare in the pool")

    page.goto(url + f"/devices/{FIRST}")
    page.select_option("#swap select[name=spare_id]", f"{SECOND}")
    page.click("#swap button[type=submit]")
    expect(page).to_have_url(url + f"/devices/{SECOND}")
    expect(page.locator("#state")).to_contain_text("Priya Shah")
    expect(page.locator("#history")).to_contain_text("device assigned")
    page.goto(url + f"/devices/{FIRST}")
    expect(page.locator("#state")).to_contain_text("spare, in the pool")
    expect(page.locator("#history")).to_contain_text("device swapped")

    # Slow the fob down from its page; supervision follows at once.
    page.goto(url + f"/devices/{SECOND}")
    page.fill("#settings-form input[name=heartbeat_s]", "300")
    page.select_option("#settings-form select[name=covert]", "true")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#state")).to_contain_text("a heartbeat every 300 s")
    expect(page.locator("#history")).to_contain_text("fob settings sent")
    # The fob beats every 300 s, the last one 5 minutes ago: at the old 60 s x 3 it would have
    # been "offline" for two minutes.
    now = dt.datetime.now(dt.UTC)
    with gateway_client(url) as gw:
        beats = [
            frame_item(ft.HEARTBEAT, n, (77, 0, 0, 1), device_id=SECOND, key=keys[SECOND],
                       received_at=now - dt.timedelta(seconds=300 * (4 - n)))
            for n in range(4)
        ]  # fmt: skip
        assert gw.post("/v1/frames", json={"frames": beats}).status_code == 200
    with live_server.app.state.db.session() as s:
        supervision.supervise(s, live_server.app.state.settings, now=now + dt.timedelta(seconds=5))
        offline = s.scalars(select(Alarm).where(Alarm.kind == "device_offline")).all()
    assert offline == []
    page.goto(url + "/devices")
    row = page.locator("#fleet tr", has=page.locator(f"a[href='/devices/{SECOND}']"))
    expect(row).to_contain_text("online")
    expect(row).to_contain_text("77 %")
    expect(row).to_contain_text("every 300 s")


def test_escalation_and_risk_assessment_kept_with_a_follow_up_after_an_incident(
    browser: Browser, live_server: LiveServer
) -> None:
    with live_server.app.state.db.session() as s:
        worker_id = s.scalars(select(Worker.id).where(Worker.name == "Sam Rivera")).one()
    page = _page(browser, live_server, "supervisor")
    url = live_server.url
    page.goto(url + f"/workers/{worker_id}")

    rows = page.locator("#contact-rows fieldset")
    for name, channel, address in (
        ("Team leader", "sms_http", "+447700900123"),
        ("Duty manager", "email", "duty@example.org"),
    ):
        page.click("#contacts [data-add-row]")
        row = rows.last
        row.locator("input[name=name]").fill(name)
        row.locator("select[name=channel]").select_option(channel)
        row.locator("input[name=address]").fill(address)
        row.locator("input[name=delay_s]").fill("90")
    rows.last.locator("[data-move-up]").click()  # the duty manager is told first
    with page.expect_navigation():  # saved, then the page reloads from the monitor
        page.click("#contacts button[type=submit]")
    expect(rows).to_have_count(2)
    expect(rows.first.locator("input[name=address]")).to_have_value("duty@example.org")
    expect(rows.first.locator("select[name=channel]")).to_have_value("email")
    expect(rows.nth(1).locator("input[name=name]")).to_have_value("Team leader")
    expect(rows.nth(1).locator("input[name=address]")).to_have_value("+447700900123")

    review = (dt.date.today() + dt.timedelta(days=200)).isoformat()
    page.fill("#risk-form textarea[name=hazards]", "Evening home visits")
    page.fill("#risk-form textarea[name=controls]", "Check-in per visit")
    page.select_option("#risk-form select[name=level]", "high")
    page.fill("#risk-form input[name=owner]", "Corporate security")
    page.fill("#risk-form input[name=review_due]", review)
    page.click("#risk-form button[type=submit]")
    expect(page.locator("#risk")).to_contain_text("Version 1")
    expect(page.locator("#risk-history")).to_contain_text("Evening home visits")
    # A bad review date is refused with the monitor's words, and nothing is saved.
    page.fill("#risk-form input[name=review_due]", "2001-01-01")
    page.eval_on_selector("#risk-form input[name=review_due]", "e => e.removeAttribute('min')")
    page.click("#risk-form button[type=submit]")
    expect(page.locator("#risk-form [role=alert]")).to_contain_text("in the past")

    with live_server.app.state.db.session() as s:
        user = s.scalars(select(User).where(User.username == "admin")).one()
        inc = incidents.record(
            s, scope.EVERYTHING, user,
            incidents.Details(type="in_person", worker_id=worker_id,
                              occurred_at=dt.datetime.now(dt.UTC)),
        )  # fmt: skip
        s.commit()
        inc_id = inc.id
    page.goto(url + "/workers/reviews")
    expect(page.locator("#reviews")).to_contain_text("incident since the last assessment")
    page.click("#reviews a:text('Assess')")
    expect(page.locator("#follow-up")).to_contain_text(f"#{inc_id}")
    expect(page.locator("#risk-form input[name=reason]")).to_have_value(f"after incident #{inc_id}")
    page.fill("#risk-form input[name=review_due]", review)
    page.click("#risk-form button[type=submit]")
    expect(page.locator("#risk")).to_contain_text("Version 2")
    expect(page.locator("#follow-up")).to_have_count(0)


def test_a_supervisor_cannot_open_another_teams_alarm_or_worker_nor_an_operator_reviews(
    browser: Browser, live_server: LiveServer
) -> None:
    with live_server.app.state.db.session() as s:
        team = Team(name="Planning enforcement")
        s.add(team)
        s.flush()
        other = Worker(name="Pat Other", team=team.name)
        s.add(other)
        sup = auth.create_user(s, "system", "rival", "Rory Rival", "supervisor", OPERATOR_PASSWORD)
        scope.set_teams(s, sup, [team.id])
        s.flush()
        _, key = provisioning.provision_device(
            s, live_server.app.state.keybox, "system", board="m5stickc-plus2", device_id=31,
            worker_id=other.id,
        )  # fmt: skip
        s.commit()
        other_id = other.id
    # Pat Other presses SOS: an alarm of a team the seeded supervisor does not look after.
    with gateway_client(live_server.url) as gw:
        item = frame_item(ft.SOS, 1, (70, 0, 0), device_id=31, key=key)
        gw.post("/v1/frames", json={"frames": [item]}).raise_for_status()
    with live_server.app.state.db.session() as s:
        alarm_id = s.scalars(select(Alarm.id).where(Alarm.worker_id == other_id)).one()
    page = _page(browser, live_server, "supervisor")
    expect(page.locator("#queue")).not_to_contain_text("Pat Other")
    assert page.goto(live_server.url + f"/alarms/{alarm_id}").status == 404  # type: ignore[union-attr]
    expect(page.locator("main")).not_to_contain_text("Pat Other")
    assert page.goto(live_server.url + f"/workers/{other_id}").status == 404  # type: ignore[union-attr]
    page.goto(live_server.url + "/workers")
    expect(page.locator("#workers")).not_to_contain_text("Pat Other")
    expect(page.locator("#workers")).to_contain_text("Sam Rivera")
    op = _page(browser, live_server, "operator")
    expect(op.locator("#queue")).to_contain_text("Pat Other")  # operators see every team
    assert op.goto(live_server.url + "/workers/reviews").status == 403  # type: ignore[union-attr]
    op.goto(live_server.url + "/workers")
    expect(op.locator("#workers")).to_contain_text("Sam Rivera")
    expect(op.locator("#new-worker")).to_have_count(0)
