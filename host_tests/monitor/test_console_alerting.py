"""The console's alarm alerting in Debian's Chromium (Playwright), on every console page, not only
the queue (monitor/static/console.js, `alerts`): the open-alarm count in the tab title and the
nav pill, the alarm beep repeated every REPEAT_MS until the alarm is acknowledged, the autoplay
banner, desktop notifications, and the operator's sound on/off kept across reloads.

How Chromium decides about sound, which these tests depend on. Under its default autoplay policy
(host_tests/support/browser.py ARGS set no --autoplay-policy) an AudioContext created before the
page has had a user activation starts "suspended". Activation is "sticky" across a same-origin
navigation the user started: the page the login form's click leads to may play at once. A
navigation by the browser (page.goto, page.reload) starts without it, so every test that needs
"before any activation" goes to its page with page.goto. Playwright's own evaluations carry a
user gesture, but no click or key event, and console.js only resumes its sound on those.

Beeps are counted by console.js in document.body.dataset.beeps (only when the sound was really
played on a running AudioContext); time is fast-forwarded with Playwright's page.clock, which
fakes the page's timers but not the live stream (EventSource) or fetch.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from host_tests.monitor.test_console_browser import log_in
from host_tests.support.browser import ARGS, UI_TIMEOUT_MS
from host_tests.support.console import raise_sos
from host_tests.support.monitor import DEVICE_ID, OPERATOR_PASSWORD, LiveServer
from monitor.models import Device
from monitor.seed import SEED_TEAM
from monitor.services import alarms

pytestmark = pytest.mark.browser

REPEAT_MS = 5000  # console.js REPEAT_MS: how often the beep repeats while an alarm is open
TITLE = "Workers · Vigil monitor"
OPEN_1 = re.compile(r"^\(1\) ")


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A context of its own per test: no sticky activation, localStorage or permission shared.
    Closed before the live server stops, so uvicorn is not left waiting on its open stream."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


def _page(
    context: BrowserContext, live: LiveServer, path: str = "/workers", clock: bool = False
) -> Page:
    """Logged in as the operator, then on `path` by page.goto: no user activation on it yet.
    With `clock`, the page's timers are Playwright's, moved on by page.clock.run_for."""
    page = context.new_page()
    if clock:
        page.clock.install()
    page.set_default_timeout(UI_TIMEOUT_MS)
    log_in(page, live.url, "operator")
    expect(page.locator("h1")).to_have_text("Alarm queue")
    page.goto(live.url + path)
    expect(page.locator("#live")).to_have_text("live")
    return page


def _beeps(page: Page) -> int:
    return int(page.evaluate("Number(document.body.dataset.beeps || 0)"))


def _acknowledge(live: LiveServer, alarm_id: int) -> None:
    """Another operator acknowledges the alarm, through the API: this page is only told by the
    live stream."""
    with httpx.Client(base_url=live.url, timeout=30) as http:
        me = {"username": "operator", "password": OPERATOR_PASSWORD}
        r = http.post("/v1/auth/login", json=me)
        r.raise_for_status()
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        http.post(f"/v1/alarms/{alarm_id}/acknowledge", headers=csrf).raise_for_status()


def _raise_fall(live: LiveServer) -> int:
    """A second open alarm for the seeded fob (a fall), through the alarm service as ingest
    raises it: published on the live stream at commit."""
    now = dt.datetime.now(dt.UTC)
    with live.app.state.db.session() as s:
        device = s.get(Device, DEVICE_ID)
        a = alarms.raise_alarm(
            s, kind="fall", device=device, raised_at=now, received_at=now, actor="test"
        )
        s.commit()
        return int(a.id)


def test_title_and_nav_pill_count_open_alarms_live_on_a_page_that_is_not_the_queue(
    context: BrowserContext, live_server: LiveServer
) -> None:
    page = _page(context, live_server)
    pill = page.locator("#nav-count")
    expect(page).to_have_title(TITLE)
    expect(pill).to_have_text("")
    page.evaluate("window.__noReload = true")

    sos_id = raise_sos(live_server)
    expect(page).to_have_title(OPEN_1)
    expect(pill).to_have_text("1")
    expect(pill).to_have_attribute("aria-label", "1 open")
    fall_id = _raise_fall(live_server)
    expect(page).to_have_title(re.compile(r"^\(2\) "))
    expect(pill).to_have_text("2")

    # Acknowledged elsewhere: no longer open, so no longer counted.
    _acknowledge(live_server, sos_id)
    expect(page).to_have_title(OPEN_1)
    expect(pill).to_have_text("1")
    _acknowledge(live_server, fall_id)
    expect(page).to_have_title(TITLE)
    expect(pill).to_have_text("")
    expect(pill).to_have_attribute("aria-label", "")
    assert page.evaluate("window.__noReload") is True  # all of it over the stream


def test_beep_repeats_after_a_click_until_the_alarm_is_acknowledged(
    context: BrowserContext, live_server: LiveServer
) -> None:
    page = _page(context, live_server, clock=True)

    alarm_id = raise_sos(live_server)
    expect(page).to_have_title(OPEN_1)
    # No activation yet: the browser keeps the sound off, and nothing is counted as played.
    page.clock.run_for(2 * REPEAT_MS + 100)
    assert _beeps(page) == 0

    page.locator("h1").click()  # any click is a user activation
    expect(page.locator("body")).to_have_attribute("data-beeps", "1")  # at once, not in 5 s
    page.clock.run_for(REPEAT_MS + 100)
    assert _beeps(page) == 2
    page.clock.run_for(REPEAT_MS)
    assert _beeps(page) == 3
    # Typing (a note, a search) is not a reason to beep: only the repeat beeps.
    page.keyboard.press("Shift")
    page.locator("h1").click()
    page.wait_for_timeout(300)
    assert _beeps(page) == 3

    _acknowledge(live_server, alarm_id)
    expect(page).to_have_title(TITLE)
    after = _beeps(page)
    page.clock.run_for(3 * REPEAT_MS)
    assert _beeps(page) == after


def test_sound_banner_shows_before_any_user_activation_and_hides_after_one(
    context: BrowserContext, live_server: LiveServer
) -> None:
    """Runs in the module's browser as launched: that relies on ARGS leaving Chromium's default
    autoplay policy alone. With --autoplay-policy=no-user-gesture-required the sound would never
    be blocked and the banner never shown, so this test would need a launch of its own."""
    assert not any(a.startswith("--autoplay-policy") for a in ARGS)
    page = _page(context, live_server)
    banner = page.locator("#sound-banner")
    expect(banner).to_be_hidden()  # nothing open: nothing to hear

    raise_sos(live_server)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Your browser plays no sound on a page until you click on it")
    # While the sound cannot carry the news, the title flashes it.
    expect(page).to_have_title("(1) ALARM · Vigil monitor")
    assert _beeps(page) == 0

    page.locator("#sound-banner button").click()
    expect(banner).to_be_hidden()
    expect(page.locator("body")).to_have_attribute("data-beeps", "1")
    titles = set()
    for _ in range(10):  # 2.5 s: more than two flashes (FLASH_MS = 1000)
        titles.add(page.title())
        page.wait_for_timeout(250)
    assert titles == {"(1) " + TITLE}  # the sound carries it now: no more flashing
    assert _beeps(page) == 1  # one beep for one click, not one per listener

    # A new page load starts without activation: the banner is back until the next click.
    page.reload()
    expect(banner).to_be_visible()
    page.keyboard.press("Enter")  # a key press is an activation too
    expect(banner).to_be_hidden()


# A desktop notification cannot be seen in headless Chromium (it has no notification UI), so
# the page's Notification is wrapped to record what console.js constructs; the permission itself
# is Chromium's own, granted to the monitor's origin.
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.__notes = [];
  window.Notification = class extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notes.push({ title, ...options });
      window.__lastNote = this;
    }
  };
})();
"""


def test_a_desktop_notification_is_created_for_a_new_alarm_when_permission_is_granted(
    browser: Browser, context: BrowserContext, live_server: LiveServer
) -> None:
    """Faked where it must be: headless Chromium shows no notification, so the constructor is
    wrapped (RECORD_NOTIFICATIONS) to record each one console.js makes; the permission is
    granted for real with context.grant_permissions."""
    context.grant_permissions(["notifications"], origin=live_server.url)
    context.add_init_script(RECORD_NOTIFICATIONS)
    page = _page(context, live_server)
    assert page.evaluate("Notification.permission") == "granted"
    expect(page.locator("#notify")).to_be_hidden()  # nothing left to ask
    # Another operator's console, whose browser was never given the permission.
    other_ctx = browser.new_context()
    other_ctx.add_init_script(RECORD_NOTIFICATIONS)
    other = _page(other_ctx, live_server)
    assert other.evaluate("Notification.permission") != "granted"

    sos_id = raise_sos(live_server)
    expect(page).to_have_title(OPEN_1)
    expect(other).to_have_title(OPEN_1)
    notes = page.evaluate("window.__notes")
    assert notes == [
        {
            "title": "SOS: Sam Rivera",
            "body": SEED_TEAM,
            "tag": f"vigil-alarm-{sos_id}",
            "requireInteraction": True,
        }
    ]
    assert other.evaluate("window.__notes") == []
    other_ctx.close()

    # Alarms already open when a page loads were announced by the page before it: not again.
    page.reload()
    expect(page).to_have_title(OPEN_1)
    page.wait_for_timeout(500)
    assert page.evaluate("window.__notes") == []
    fall_id = _raise_fall(live_server)
    expect(page).to_have_title(re.compile(r"^\(2\) "))
    notes = page.evaluate("window.__notes")
    assert [(n["title"], n["tag"]) for n in notes] == [
        ("Fall: Sam Rivera", f"vigil-alarm-{fall_id}")
    ]
    # Clicking the notification opens its alarm.
    page.evaluate("window.__lastNote.onclick()")
    expect(page).to_have_url(live_server.url + f"/alarms/{fall_id}")


def test_sound_off_persists_across_a_reload_and_nothing_beeps_while_it_is_off(
    context: BrowserContext, live_server: LiveServer
) -> None:
    page = _page(context, live_server, "/", clock=True)
    button = page.locator("#sound")
    stored = "localStorage.getItem('vigil.sound')"
    expect(button).to_have_text("Sound: click to enable")
    button.click()
    expect(button).to_have_text("Sound: on")
    button.click()
    expect(button).to_have_text("Sound: off")
    assert page.evaluate(stored) == "off"

    page.reload()
    expect(page.locator("#live")).to_have_text("live")
    expect(button).to_have_text("Sound: off")
    assert page.evaluate(stored) == "off"

    raise_sos(live_server)
    expect(page.locator(".alarm")).to_have_count(1)
    expect(page).to_have_title(re.compile(r"^\(1\) Alarm queue"))
    page.locator("h1").click()  # an activation: the browser would let it play
    page.clock.run_for(3 * REPEAT_MS)
    assert _beeps(page) == 0
    # Off is the operator's choice, not the browser's: no banner asking for a click.
    expect(page.locator("#sound-banner")).to_be_hidden()

    # And the page could have beeped: turned back on, it does at once and then every REPEAT_MS.
    button.click()
    expect(button).to_have_text("Sound: on")
    expect(page.locator("body")).to_have_attribute("data-beeps", "1")
    page.clock.run_for(REPEAT_MS + 100)
    assert _beeps(page) == 2
    assert page.evaluate(stored) == "on"
