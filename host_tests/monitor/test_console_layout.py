"""The console's layout in Debian's Chromium at a desk (1280 px) and on a tablet (768 px): on
every admin page (test_console_a11y.PAGES, with data on them) the page never scrolls sideways,
and every link of the side bar's nav is on screen, clickable where it is drawn, without
scrolling. A wide table scrolls inside its own box instead."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from host_tests.monitor.test_console_a11y import PAGES
from host_tests.monitor.test_console_browser import log_in
from host_tests.support.browser import UI_TIMEOUT_MS
from host_tests.support.console import Populated
from host_tests.support.monitor import LiveServer

pytestmark = pytest.mark.browser

# What an admin's side bar holds (monitor/templates/base.html): every page must show them all.
NAV = (
    "/", "/workers", "/devices", "/incidents", "/reports",
    "/gateways", "/users", "/teams", "/account",
)  # fmt: skip

# Run in the page: how far the document scrolls sideways, and for each nav link whether it is
# drawn inside the viewport and is what a click at its centre lands on.
MEASURE = """() => {
  const root = document.documentElement;
  const links = [...document.querySelectorAll('.side nav a')].map((a) => {
    const r = a.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const hit = document.elementFromPoint(x, y);
    return {
      href: a.getAttribute('href'),
      inside: r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0
        && r.right <= root.clientWidth + 1 && r.bottom <= root.clientHeight + 1,
      hit: !!hit && (hit === a || a.contains(hit)),
    };
  });
  return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, links,
           // what sticks out past the right edge, for the failure message
           wide: [...document.querySelectorAll('main *')]
             .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 1)
             .slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
               + (e.className && typeof e.className === 'string' ? '.' + e.className : '')) };
}"""

WIDTHS = ((1280, 900), (768, 1024))


def _measure(page: Page, url: str) -> dict[str, Any]:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response)
    expect(page.locator("#live")).to_have_text("live")  # console.js has run (times, forms)
    found: dict[str, Any] = page.evaluate(MEASURE)
    return found


@pytest.mark.parametrize("width,height", WIDTHS, ids=[f"{w}px" for w, _ in WIDTHS])
def test_no_page_scrolls_sideways_and_every_nav_link_is_on_screen(
    browser: Browser, populated: tuple[LiveServer, Populated], width: int, height: int
) -> None:
    server, data = populated
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(UI_TIMEOUT_MS)
    log_in(page, server.url, "admin")
    expect(page.locator("h1")).to_have_text("Alarm queue")
    bad: dict[str, Any] = {}
    for path in PAGES:
        m = _measure(page, server.url + path.format(**vars(data)))
        problems = {}
        if m["scrollWidth"] > m["clientWidth"] + 1:
            problems["scrolls sideways"] = [m["scrollWidth"], m["clientWidth"], m["wide"]]
        if [link["href"] for link in m["links"]] != list(NAV):
            problems["nav"] = [link["href"] for link in m["links"]]
        hidden = [link["href"] for link in m["links"] if not (link["inside"] and link["hit"])]
        if hidden:
            problems["nav links off screen or covered"] = hidden
        if problems:
            bad[path] = problems
    assert not bad, json.dumps(bad, indent=1)

    # Reachable is clickable: the last link of the side bar, from the widest page.
    page.goto(server.url + "/users")
    page.locator(".side nav a[href='/account']").click()
    expect(page.locator("h1")).to_have_text("My account")
    page.close()
