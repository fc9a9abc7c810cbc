"""The admin's account pages in Debian's Chromium (Playwright) against uvicorn, driven as a
person would: create a user who must choose their own password at first login, disable them
(their session ends, their login is refused), set them a temporary password; create a gateway
whose token is shown once and works until it is revoked on the page; mint a personal API token
with an expiry and revoke it; create a team, give it a supervisor, and see that supervisor's
/workers hold only that team's workers."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from host_tests.monitor.test_console_browser import log_in
from host_tests.monitor.test_fleet_and_workers_browser import _page
from host_tests.support.browser import UI_TIMEOUT_MS
from host_tests.support.monitor import GATEWAY_TOKEN, LiveServer, heartbeat

pytestmark = pytest.mark.browser

TEMPORARY = "temporary-pass-1"
OWN = "my-own-password-2"
SECOND_TEMPORARY = "temporary-pass-3"


def _fresh(browser: Browser) -> Page:
    """A page in a context of its own: no cookie shared with the admin's."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("dialog", lambda d: d.accept())
    return page


def _create_user(
    page: Page, url: str, username: str, name: str, role: str, *, must_change: bool,
    password: str = TEMPORARY, teams: tuple[str, ...] = (),
) -> None:  # fmt: skip
    page.goto(url + "/users")
    form = page.locator("#user-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=name]").fill(name)
    form.locator("select[name=role]").select_option(role)
    for team in teams:
        form.get_by_label(team).check()
    form.locator("input[name=password]").fill(password)
    form.locator("input[name=must_change_password]").set_checked(must_change)
    form.locator("button[type=submit]").click()
    expect(page.locator(f"#users tr[data-user='{username}']")).to_contain_text(name)


def _manage(page: Page, username: str) -> Page:
    """Opens the user's Manage panel on /users."""
    page.locator(f"tr[data-manage='{username}'] summary").click()
    return page


def _bearer(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_a_new_user_changes_their_password_first_is_disabled_then_reset(
    browser: Browser, live_server: LiveServer
) -> None:
    url = live_server.url
    admin = _page(browser, live_server, "admin")
    _create_user(admin, url, "jo.bloggs", "Jo Bloggs", "operator", must_change=True)
    row = admin.locator("#users tr[data-user='jo.bloggs']")
    expect(row).to_contain_text("operator")
    expect(row).to_contain_text("active")
    expect(row.locator(".must-change")).to_be_visible()
    expect(row).to_contain_text("never")  # not logged in yet

    # Their first login lands on the password page, and every other page sends them back.
    jo = _fresh(browser)
    log_in(jo, url, "jo.bloggs", password=TEMPORARY)
    expect(jo).to_have_url(url + "/account/password")
    expect(jo.locator("#forced")).to_be_visible()
    jo.goto(url + "/workers")
    expect(jo).to_have_url(url + "/account/password")
    assert jo.request.get(url + "/v1/alarms").status == 403  # the API refuses them too
    # A wrong current password is refused with the monitor's words; nothing changes.
    jo.fill("#password-form input[name=current_password]", "not-the-password")
    jo.fill("#password-form input[name=new_password]", OWN)
    jo.click("#password-form button[type=submit]")
    expect(jo.locator("#password-form [role=alert]")).to_be_visible()
    expect(jo).to_have_url(url + "/account/password")
    jo.fill("#password-form input[name=current_password]", TEMPORARY)
    jo.click("#password-form button[type=submit]")
    expect(jo.locator("h1")).to_have_text("Alarm queue")
    jo.goto(url + "/workers")
    expect(jo.locator("h1")).to_have_text("Workers")
    assert jo.request.get(url + "/v1/alarms").status == 200

    admin.reload()
    expect(row.locator(".must-change")).to_have_count(0)
    expect(row).not_to_contain_text("never")  # their login is on record

    # Disabled: the session they hold ends at once and their password no longer logs in.
    _manage(admin, "jo.bloggs").get_by_role("button", name="Disable jo.bloggs").click()
    expect(row.locator(".tag.bad")).to_have_text("disabled")
    # Their open console is sent to the login page by its ended stream; navigating meanwhile
    # raced that redirect, so wait for it, then try a page by address.
    expect(jo).to_have_url(url + "/login")
    jo.goto(url + "/workers")
    expect(jo).to_have_url(url + "/login")
    assert jo.request.get(url + "/v1/alarms").status == 401
    log_in(jo, url, "jo.bloggs", password=OWN)
    expect(jo.locator(".login-card [role=alert]")).to_contain_text("wrong username or password")
    expect(jo).to_have_url(url + "/login")

    # Enabled again with a temporary password: their own no longer works, and the new one
    # must be changed before anything else.
    _manage(admin, "jo.bloggs").get_by_role("button", name="Enable jo.bloggs").click()
    expect(row.locator(".tag").first).to_have_text("active")
    manage = admin.locator("tr[data-manage='jo.bloggs']")
    _manage(admin, "jo.bloggs")
    reset = manage.locator("form[data-api$='/password']")
    reset.locator("input[name=password]").fill(SECOND_TEMPORARY)
    expect(reset.locator("input[name=must_change_password]")).to_be_checked()
    reset.get_by_role("button", name="Set password").click()
    expect(row.locator(".must-change")).to_be_visible()

    log_in(jo, url, "jo.bloggs", password=OWN)
    expect(jo.locator(".login-card [role=alert]")).to_contain_text("wrong username or password")
    log_in(jo, url, "jo.bloggs", password=SECOND_TEMPORARY)
    expect(jo).to_have_url(url + "/account/password")
    expect(jo.locator("#forced")).to_be_visible()
    jo.goto(url + "/")
    expect(jo).to_have_url(url + "/account/password")
    jo.fill("#password-form input[name=current_password]", SECOND_TEMPORARY)
    jo.fill("#password-form input[name=new_password]", OWN + "-again")
    jo.click("#password-form button[type=submit]")
    expect(jo.locator("h1")).to_have_text("Alarm queue")


def test_a_gateway_token_is_shown_once_works_and_is_refused_once_revoked(
    browser: Browser, live_server: LiveServer
) -> None:
    url = live_server.url
    admin = _page(browser, live_server, "admin")
    admin.goto(url + "/gateways")
    admin.fill("#gateway-form input[name=name]", "Depot reception Pi")
    admin.click("#gateway-form button[type=submit]")
    shown = admin.locator("#gateway-token")
    expect(shown).to_be_visible()
    expect(shown).to_have_text(re.compile(r"^vgw_\S{20,}$"))
    token = shown.inner_text()
    expect(admin.locator("#gateway-command")).to_contain_text(f"VIGIL_GATEWAY_TOKEN='{token}'")
    expect(admin.locator("#gateway-command")).to_contain_text(f"--monitor-url {url}")

    # Reloaded, the page lists the gateway but never shows its token again.
    admin.reload()
    row = admin.locator("#gateways tr[data-gateway='Depot reception Pi']")
    expect(row).to_contain_text("never")
    expect(admin.locator("#gateway-token")).to_be_hidden()
    assert token not in admin.content()

    with _bearer(url, token) as gw:
        r = gw.post("/v1/gateways/health", json={"queue_depth": 3, "version": "2.4.1"})
        assert r.status_code == 204, r.text
        r = gw.post("/v1/frames", json={"frames": [heartbeat(1)]})
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["status"] == "accepted", r.text
    admin.reload()
    expect(row).not_to_contain_text("never")
    expect(row).to_contain_text("3 frames")
    expect(row).to_contain_text("2.4.1")

    row.get_by_role("button", name="Revoke").click()
    expect(row.locator(".tag.bad")).to_contain_text("revoked")
    with _bearer(url, token) as gw:
        assert gw.post("/v1/frames", json={"frames": [heartbeat(2)]}).status_code in (401, 403)
        assert gw.post("/v1/gateways/health", json={}).status_code in (401, 403)
    # Only that gateway: the seeded one still relays.
    with _bearer(url, GATEWAY_TOKEN) as gw:
        assert gw.post("/v1/frames", json={"frames": [heartbeat(3)]}).status_code == 200
    admin.reload()
    expect(admin.locator("#gateways tr[data-gateway='Depot reception Pi']")).to_have_class(
        re.compile("row-bad")
    )


def test_a_personal_api_token_with_an_expiry_works_until_revoked_on_the_page(
    browser: Browser, live_server: LiveServer
) -> None:
    url = live_server.url
    page = _page(browser, live_server, "operator")
    page.goto(url + "/account")
    expect(page.locator("#token-list")).to_contain_text("No API tokens")
    page.fill("#token-form input[name=label]", "laptop CLI")
    page.fill("#token-form input[name=days]", "7")
    before = dt.datetime.now(dt.UTC)
    page.click("#token-form button[type=submit]")
    shown = page.locator("#new-token")
    expect(shown).to_be_visible()
    token = shown.inner_text()
    assert token
    expires = page.locator("#token-form [data-field=expires_at]").inner_text()
    week = dt.timedelta(days=7)
    assert before + week - dt.timedelta(minutes=1) < dt.datetime.fromisoformat(expires)
    assert dt.datetime.fromisoformat(expires) < dt.datetime.now(dt.UTC) + week

    page.get_by_role("link", name="done, show the list").click()
    row = page.locator("#token-list tr", has_text="laptop CLI")
    expect(row).to_have_count(1)
    expect(page.locator("#new-token")).to_be_hidden()
    assert token not in page.content()
    # Its expiry, a week out: the <time> holds UTC, its text the browser's own zone.
    listed = row.locator("time").nth(1).get_attribute("datetime")
    assert listed is not None
    when = dt.datetime.fromisoformat(listed.replace("Z", "+00:00"))
    assert abs(when - dt.datetime.fromisoformat(expires)) < dt.timedelta(seconds=2), listed
    expect(row.locator("time").nth(1)).to_have_attribute(
        "title", when.strftime("%d %b %Y %H:%M:%S UTC")
    )

    with _bearer(url, token) as api:
        me = api.get("/v1/auth/me")
        assert me.status_code == 200 and me.json()["username"] == "operator", me.text
        assert api.get("/v1/alarms").status_code == 200
        # A script's token cannot mint another one.
        assert api.post("/v1/auth/tokens", json={"label": "more"}).status_code == 403

    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#token-list")).to_contain_text("No API tokens")
    with _bearer(url, token) as api:
        assert api.get("/v1/alarms").status_code == 401
        assert api.get("/v1/auth/me").json().get("username") is None


def test_a_teams_supervisor_sees_only_that_teams_workers(
    browser: Browser, live_server: LiveServer
) -> None:
    url = live_server.url
    admin = _page(browser, live_server, "admin")
    admin.goto(url + "/teams")
    admin.fill("#team-form input[name=name]", "Parks patrol")
    admin.fill("#team-form input[name=office]", "Depot, Mill Lane")
    admin.click("#team-form button[type=submit]")
    team_row = admin.locator("#teams tr[data-team='Parks patrol']")
    expect(team_row).to_contain_text("Depot, Mill Lane")
    expect(team_row).to_contain_text("none")  # no supervisor yet

    # A supervisor with no team yet, then given the new team from their Manage panel.
    _create_user(admin, url, "pat.parks", "Pat Parks", "supervisor", must_change=False)
    _manage(admin, "pat.parks")
    edit = admin.locator("tr[data-manage='pat.parks'] form[data-method=PATCH]").first
    edit.get_by_label("Parks patrol").check()
    edit.get_by_role("button", name="Save").click()
    expect(admin.locator("#users tr[data-user='pat.parks']")).to_contain_text("Parks patrol")
    admin.goto(url + "/teams")
    expect(team_row).to_contain_text("Pat Parks")
    expect(admin.locator("#teams tr[data-team='Housing visits']")).not_to_contain_text("Pat Parks")

    # One worker in each team, through the Workers form.
    for name, team in (("Robin Green", "Parks patrol"), ("Alex Door", "Housing visits")):
        admin.goto(url + "/workers")
        admin.fill("#new-worker input[name=name]", name)
        admin.select_option("#new-worker select[name=team]", team)
        admin.click("#new-worker button[type=submit]")
        expect(admin).to_have_url(re.compile(r"/workers/\d+$"))
        expect(admin.locator("h1")).to_have_text(name)
    alex = admin.url
    admin.goto(url + "/teams")
    expect(team_row.locator("td").nth(3)).to_have_text("1")

    sup = _fresh(browser)
    log_in(sup, url, "pat.parks", password=TEMPORARY)
    expect(sup.locator("h1")).to_have_text("Alarm queue")
    sup.goto(url + "/workers")
    workers = sup.locator("#workers")
    expect(workers).to_contain_text("Robin Green")
    expect(workers).not_to_contain_text("Alex Door")
    expect(workers).not_to_contain_text("Sam Rivera")  # the seeded Housing visits worker
    expect(sup.locator("#new-worker select[name=team] option")).to_have_text(["Parks patrol"])
    assert sup.goto(alex).status == 404  # type: ignore[union-attr]
