"""Accessibility of the console in Debian's Chromium: axe-core (from npm, injected by Playwright)
finds no serious or critical violation on any console page with data on it, and an operator
acknowledges and resolves an alarm with the keyboard alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from host_tests.monitor.test_console_browser import log_in
from host_tests.support.browser import UI_TIMEOUT_MS, chromium
from host_tests.support.console import Populated, monitor_with, raise_sos
from host_tests.support.monitor import LiveServer
from monitor.seed import Seeded

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# Every console page axe checks, as an admin (who sees every nav link). `{open_alarm}`,
# `{resolved_alarm}` and `{incident}` are filled from the populated data. Add the pages other
# parts build here (/workers/{id}, /users, /teams, /gateways, /account, ...).
PAGES = (
    "/",
    "/alarms/{open_alarm}",
    "/alarms/{resolved_alarm}",
    "/devices",
    "/workers",
    "/incidents",
    "/incidents/new",
    "/incidents/{incident}",
    "/reports",
    "/workers/1",  # the seeded worker and fob (monitor/seed.py)
    "/workers/reviews",
    "/devices/7",
    "/users",
    "/teams",
    "/gateways",
    "/account",
)
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not AXE.exists():
        pytest.fail("axe-core is missing from node_modules: run `make setup` (npm ci)")
    with chromium() as b:
        yield b


def serious_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, { resultTypes: ['violations'] })).violations"
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "nodes": [(n["target"], n["failureSummary"][-160:]) for n in v["nodes"]][:6],
        }
        for v in found
        if v["impact"] in SERIOUS
    ]


def test_no_serious_or_critical_axe_violation_on_any_console_page(
    browser: Browser, populated: tuple[LiveServer, Populated]
) -> None:
    server, data = populated
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(UI_TIMEOUT_MS)
    log_in(page, server.url, "admin")
    expect(page.locator("h1")).to_have_text("Alarm queue")
    report: dict[str, list[dict[str, Any]]] = {}
    for path in PAGES:
        url = server.url + path.format(**vars(data))
        response = page.goto(url)
        assert response is not None and response.status == 200, (path, response)
        page.wait_for_load_state("networkidle")
        expect(page.locator("#live")).to_have_text("live")
        report[path] = serious_violations(page)
    bad = {p: v for p, v in report.items() if v}
    assert not bad, json.dumps(bad, indent=1)
    page.close()


def test_an_operator_acknowledges_and_resolves_with_the_keyboard_alone(
    browser: Browser, tmp_path: Path, sqlite_template: tuple[Path, Seeded]
) -> None:
    with monitor_with(tmp_path, sqlite_template, map_tile_url="") as server:
        alarm_id = raise_sos(server)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(UI_TIMEOUT_MS)
        log_in(page, server.url, "operator")
        expect(page.locator("h1")).to_have_text("Alarm queue")
        card = page.locator(f".alarm[data-id='{alarm_id}']")
        expect(card).to_be_visible()

        def tab_to(predicate: str, limit: int = 60) -> None:
            for _ in range(limit):
                page.keyboard.press("Tab")
                if page.evaluate(
                    f"(() => {{ const e = document.activeElement; return {predicate}; }})()"
                ):
                    return
            raise AssertionError(f"Tab never reached {predicate}")

        # From the queue to the alarm: Tab to its card, Enter opens it.
        tab_to(f"e.matches('.alarm[data-id=\"{alarm_id}\"]')")
        page.keyboard.press("Enter")
        expect(page.locator("h1")).to_contain_text(f"Alarm #{alarm_id}")
        # Acknowledge: Tab to the button, Space presses it.
        tab_to("e.id === 'ack'")
        page.keyboard.press("Space")
        expect(page.locator("#status")).to_have_text("acknowledged")
        # Resolve: choose the outcome with the arrow keys, type a note, Enter on the button.
        tab_to("e.name === 'outcome'")
        page.keyboard.press("ArrowDown")
        chosen = page.eval_on_selector("select[name=outcome]", "s => s.value")
        tab_to("e.name === 'notes'")
        page.keyboard.type("Called the worker back: safe.")
        tab_to("e.matches('#resolve button[type=submit]')")
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_have_text("resolved")
        expect(page.locator("#timeline")).to_contain_text("Called the worker back: safe.")
        expect(page.get_by_text(chosen.replace("_", " "), exact=False).first).to_be_visible()
        page.close()
