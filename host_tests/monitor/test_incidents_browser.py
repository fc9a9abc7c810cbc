"""Incidents in Debian's Chromium (Playwright) against uvicorn: an admin records one without an
alarm, finds it by date range, downloads the CSV and finds its row; the reports page counts it;
a supervisor of another team gets a 404 for it.

The browser runs in the Europe/Paris time zone (Chromium's own emulation) so that the form's
local time is seen to reach the monitor as UTC."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from host_tests.monitor.test_console_browser import log_in
from host_tests.support.browser import UI_TIMEOUT_MS
from host_tests.support.monitor import OPERATOR_PASSWORD, LiveServer, gateway_client, sos
from monitor.models import Team, Worker
from monitor.services import auth, scope

pytestmark = pytest.mark.browser


def _rival_supervisor(live_server: LiveServer) -> None:
    """A supervisor ("rival") of a team that is not the seeded worker's."""
    with live_server.app.state.db.session() as s:
        team = Team(name="Planning enforcement")
        s.add(team)
        s.flush()
        s.add(Worker(name="Pat Other", team=team.name))
        sup = auth.create_user(s, "system", "rival", "Rory Rival", "supervisor", OPERATOR_PASSWORD)
        scope.set_teams(s, sup, [team.id])
        s.commit()


def test_admin_records_an_incident_without_an_alarm_filters_and_downloads_it(
    browser: Browser, live_server: LiveServer, tmp_path: Path
) -> None:
    _rival_supervisor(live_server)
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Europe/Paris", accept_downloads=True
    )
    page = ctx.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    log_in(page, live_server.url, "admin")
    expect(page.locator("h1")).to_have_text("Alarm queue")

    page.goto(live_server.url + "/incidents/new")
    page.select_option("select[name=type]", "phone_abuse")
    page.fill("input[name=occurred_at]", "2026-11-20T10:15")  # Paris: 09:15 UTC
    page.fill("input[name=location]", "Switchboard, Civic Centre")
    page.fill("input[name=reported_by]", "Sam Rivera")
    page.select_option("select[name=worker_id]", label="Sam Rivera · Housing visits")
    page.fill("input[name=police_reference]", "CAD 4471")
    page.fill("textarea[name=summary]", "Threatening voicemail after a tenancy decision")
    page.fill("textarea[name=lessons_learnt]", "Publish the switchboard number only")
    page.click("#incident-form button[type=submit]")

    expect(page).to_have_url(re.compile(r"/incidents/\d+$"))
    incident_id = page.url.rsplit("/", 1)[1]
    recorded = page.locator("#recorded")
    expect(recorded).to_contain_text("phone abuse")
    expect(recorded).to_contain_text("2026-11-20 09:15 UTC")
    expect(recorded).to_contain_text("none: recorded without an alarm")
    expect(recorded).to_contain_text("CAD 4471")
    expect(page.locator("#summary")).to_have_text("Threatening voicemail after a tenancy decision")
    expect(page.locator("#lessons")).to_have_text("Publish the switchboard number only")
    review = page.get_by_role("link", name="Review the risk assessment")
    expect(review).to_have_attribute("href", re.compile(r"^/workers/\d+#risk$"))

    # A second incident outside the range, through the same API the form calls.
    page.evaluate(
        """Vigil.api("POST", "/v1/incidents", {type: "online_abuse",
             occurred_at: "2026-10-02T12:00:00Z", location: "Facebook page"})"""
    )
    page.goto(live_server.url + "/incidents")
    expect(page.locator("#incidents tbody tr")).to_have_count(2)
    page.fill("input[name=from]", "2026-11-20")
    page.fill("input[name=to]", "2026-11-20")
    page.click("#filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"from=2026-11-20"))
    rows = page.locator("#incidents tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Switchboard, Civic Centre")

    with page.expect_download() as info:
        page.click("#csv")
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    assert target.name == "vigil-incidents-2026-11-20-2026-11-20.csv"
    found = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [r["id"] for r in found] == [incident_id]
    assert found[0]["occurred_at"] == "2026-11-20T09:15:00+00:00"
    assert found[0]["location"] == "Switchboard, Civic Centre"
    assert found[0]["type"] == "phone_abuse" and found[0]["team"] == "Housing visits"

    page.goto(live_server.url + "/reports?from=2026-11-01&to=2026-11-30")
    expect(page.locator("#range")).to_contain_text("2026-11-01 to 2026-11-30")
    expect(page.locator("#incident-tables")).to_contain_text("phone abuse")
    expect(page.locator("#definitions")).to_contain_text("mean of the two middle ones")
    expect(page.locator("#incidents-csv")).to_have_attribute(
        "href", "/v1/incidents.csv?from=2026-11-01&to=2026-11-30"
    )
    ctx.close()

    # A supervisor of another team: the incident is not theirs to open or list.
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    page = other.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    log_in(page, live_server.url, "rival")
    expect(page.locator("h1")).to_have_text("Alarm queue")
    response = page.goto(live_server.url + f"/incidents/{incident_id}")
    assert response is not None and response.status == 404
    expect(page.locator("body")).to_contain_text("not from one of your teams")
    page.goto(live_server.url + "/incidents")
    expect(page.locator("#incidents tbody")).to_contain_text("No incidents recorded yet")
    other.close()


def test_a_bad_date_in_the_filters_is_shown_back_not_a_bare_error(
    browser: Browser, live_server: LiveServer
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(UI_TIMEOUT_MS)
    log_in(page, live_server.url, "operator")
    expect(page.locator("h1")).to_have_text("Alarm queue")
    page.goto(live_server.url + "/incidents?from=2026-11-30&to=2026-11-01&team=Housing+visits")
    expect(page.get_by_role("alert")).to_contain_text("is after to")
    expect(page.locator("input[name=from]")).to_have_value("2026-11-30")  # nothing typed is lost
    expect(page.locator("select[name=team]")).to_have_value("Housing visits")
    page.close()


def test_operator_files_a_resolved_alarm_as_an_incident_from_its_page(
    browser: Browser, live_server: LiveServer
) -> None:
    with gateway_client(live_server.url) as gw:
        gw.post("/v1/frames", json={"frames": [sos(2)]}).raise_for_status()
    page = browser.new_page(viewport={"width": 768, "height": 1000})
    page.set_default_timeout(UI_TIMEOUT_MS)
    log_in(page, live_server.url, "operator")
    expect(page.locator("h1")).to_have_text("Alarm queue")
    alarm_id = page.evaluate(
        """async () => { const [a] = await Vigil.api("GET", "/v1/alarms");
             await Vigil.api("POST", `/v1/alarms/${a.id}/resolve`, {outcome: "help_sent"});
             return a.id; }"""
    )
    page.goto(live_server.url + f"/alarms/{alarm_id}")
    page.get_by_role("link", name="File as an incident").click()
    expect(page).to_have_url(re.compile(rf"/incidents/new\?alarm_id={alarm_id}$"))
    expect(page.locator("select[name=worker_id] option:checked")).to_contain_text("Sam Rivera")
    page.select_option("select[name=type]", "in_person")
    page.fill("textarea[name=actions_taken]", "Security attended; worker escorted out")
    page.click("#incident-form button[type=submit]")  # "when" left empty: the alarm's time
    expect(page).to_have_url(re.compile(r"/incidents/\d+$"))
    incident_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#recorded")).to_contain_text(f"#{alarm_id} (sos)")
    expect(page.locator("#actions")).to_have_text("Security attended; worker escorted out")
    page.goto(live_server.url + f"/alarms/{alarm_id}")
    expect(page.locator("#incident-link")).to_contain_text(f"incident #{incident_id}")
    page.goto(live_server.url + f"/incidents/new?alarm_id={alarm_id}")  # a second time: refused
    expect(page.locator("main")).to_contain_text("already filed as incident")
    page.close()
