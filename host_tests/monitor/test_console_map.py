"""The alarm page's map in Debian's Chromium against uvicorn: Leaflet served by the monitor
itself, tiles from a configured tile server (a real local HTTP server here), and when tiles
cannot load the page says so and keeps the coordinates, accuracy, source and age as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.localstack import free_port
from host_tests.monitor.test_console_browser import log_in
from host_tests.support.browser import UI_TIMEOUT_MS, chromium
from host_tests.support.console import monitor_with, raise_sos, tile_server
from monitor.seed import Seeded

pytestmark = pytest.mark.browser

VENDOR = Path(__file__).resolve().parents[2] / "monitor" / "static" / "vendor" / "leaflet"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not (VENDOR / "leaflet.js").exists():
        pytest.fail("Leaflet is not vendored into monitor/static/vendor: run `make setup`")
    with chromium() as b:
        yield b


def _alarm_page(browser: Browser, url: str, alarm_id: int) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(UI_TIMEOUT_MS)
    log_in(page, url, "operator")
    expect(page.locator("h1")).to_have_text("Alarm queue")
    page.goto(f"{url}/alarms/{alarm_id}")
    return page


def _text_position_is_shown(page: Page) -> None:
    where = page.locator("dd", has_text="51.50720, -0.12760")
    expect(where).to_contain_text("± 40 m")
    expect(where).to_contain_text("not signed by the fob")


def test_the_monitor_serves_leaflet_itself(
    tmp_path: Path, sqlite_template: tuple[Path, Seeded]
) -> None:
    with monitor_with(tmp_path, sqlite_template) as server:
        js = httpx.get(server.url + "/static/vendor/leaflet/leaflet.js")
        css = httpx.get(server.url + "/static/vendor/leaflet/leaflet.css")
    assert js.status_code == 200 and "Leaflet" in js.text[:500]
    assert css.status_code == 200 and ".leaflet-container" in css.text


def test_tiles_from_the_configured_server_draw_the_map_with_the_accuracy_circle(
    browser: Browser, tmp_path: Path, sqlite_template: tuple[Path, Seeded]
) -> None:
    with (
        tile_server() as tiles,
        monitor_with(
            tmp_path, sqlite_template, map_tile_url=tiles.url + "/{z}/{x}/{y}.png"
        ) as server,
    ):
        page = _alarm_page(browser, server.url, raise_sos(server))
        expect(page.locator("#map")).to_have_attribute("data-state", "tiles")
        expect(page.locator("#map img.leaflet-tile-loaded").first).to_be_visible()
        # The accuracy circle and the centre are drawn (SVG paths in Leaflet's overlay pane).
        expect(page.locator("#map .leaflet-overlay-pane path")).to_have_count(2)
        expect(page.locator("#map-note")).to_be_hidden()
        _text_position_is_shown(page)
        page.close()
    assert tiles.paths, "the browser fetched no tile"
    assert all(p.endswith(".png") and p.count("/") == 3 for p in tiles.paths)
    # Zoomed to the accuracy circle around central London: zoom 16 or 17 tile numbers.
    z, x, _ = tiles.paths[0].lstrip("/").removesuffix(".png").split("/")
    assert z in ("16", "17") and int(x) > 0


def test_unreachable_tiles_leave_the_coordinates_and_say_tiles_are_unavailable(
    browser: Browser, tmp_path: Path, sqlite_template: tuple[Path, Seeded]
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/{{z}}/{{x}}/{{y}}.png"  # nothing listens there
    with monitor_with(tmp_path, sqlite_template, map_tile_url=nowhere) as server:
        page = _alarm_page(browser, server.url, raise_sos(server))
        note = page.locator("#map-note")
        expect(note).to_be_visible()
        expect(note).to_contain_text("Map tiles unavailable")
        expect(note).to_contain_text("coordinates above are the position")
        _text_position_is_shown(page)
        page.close()


def test_without_leaflet_the_page_says_the_map_is_missing_and_keeps_the_text(
    browser: Browser, tmp_path: Path, sqlite_template: tuple[Path, Seeded]
) -> None:
    """Fakes a monitor installed without `make setup`'s copy: the browser is refused the file
    (Playwright aborts the request), which is what a 404 does to a script tag."""
    with monitor_with(tmp_path, sqlite_template) as server:
        page = _alarm_page(browser, server.url, raise_sos(server))
        page.route("**/static/vendor/leaflet/**", lambda route: route.abort())
        page.reload()
        expect(page.locator("#map-note")).to_contain_text("Map unavailable")
        expect(page.locator("#map")).to_be_hidden()
        _text_position_is_shown(page)
        page.close()


def test_an_empty_tile_url_shows_no_map_only_the_text(
    browser: Browser, tmp_path: Path, sqlite_template: tuple[Path, Seeded]
) -> None:
    with monitor_with(tmp_path, sqlite_template, map_tile_url="") as server:
        page = _alarm_page(browser, server.url, raise_sos(server))
        _text_position_is_shown(page)
        expect(page.locator("#map")).to_have_count(0)
        page.close()
