"""`make screenshot` makes the README's pictures from the demo office, end to end: a real
uvicorn, signed frames through the gateway API, Debian's Chromium."""

from __future__ import annotations

import struct
from pathlib import Path

import httpx
from playwright.sync_api import Browser

from devstack import screenshot
from devstack.demo_office import SPARES, WORKERS
from monitor.demo import DEMO_ADMIN_PASSWORD

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_the_script_writes_every_picture_at_the_readme_size(tmp_path: Path) -> None:
    with screenshot.demo_monitor(tmp_path / "work") as url:
        written = screenshot.take(url, tmp_path / "out")
        # What the pictures show is what the monitor holds: the demo office, its alarms.
        with httpx.Client(base_url=url) as http:
            http.post(
                "/v1/auth/login", json={"username": "admin", "password": DEMO_ADMIN_PASSWORD}
            ).raise_for_status()
            workers = {w["name"] for w in http.get("/v1/workers").json()}
            alarms = http.get("/v1/alarms", params={"status": "open"}).json()
    assert [p.name for p in written] == [s[0] for s in screenshot.SHOTS]
    for path in written:
        assert png_size(path) == (1440, 900)
        assert path.stat().st_size > 20_000, f"{path.name} looks blank"
    assert {w[0] for w in WORKERS} | {"Sam Rivera"} <= workers
    kinds = sorted(a["kind"] for a in alarms)
    assert kinds == ["device_offline", "low_battery", "sos"], kinds


def test_the_queue_picture_is_the_page_an_operator_sees(tmp_path: Path, browser: Browser) -> None:
    """The shot's page, read back as text in the same browser: names, spares and states."""
    with screenshot.demo_monitor(tmp_path / "work") as url:
        page = browser.new_page()
        screenshot._log_in(page, url, "operator")
        page.get_by_text("Priya Shah").first.wait_for()
        queue = page.locator("#queue").inner_text()
        page.goto(url + "/devices")
        fobs = page.locator("main").inner_text()
        page.close()
    for name in ("Sam Rivera", "Tom Okafor", "Priya Shah"):
        assert name in queue
    assert "Dan Whitfield" not in queue  # his false alarm is resolved
    assert f"{len(SPARES)} spares in the pool" in fobs
