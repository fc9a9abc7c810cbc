"""`make screenshot`: the README's console pictures, made from seeded demo data.

A fresh SQLite database under var/screenshot/, the demo office of `devstack.demo_office`
(its alarms sent as signed frames through the gateway API of a real uvicorn), then Debian's
Chromium, logged in as each person who uses the page, writes one PNG per page at 1440x900.
Nothing in the pictures is drawn by hand, so they can be remade after any console change.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, ViewportSize

from devstack.chromium import launched
from devstack.demo_office import build, morning
from devstack.localstack import uvicorn_in_thread
from monitor.api.main import create_app
from monitor.core.config import Settings
from monitor.demo import DEMO_ADMIN_PASSWORD, DEMO_OPERATOR_PASSWORD

VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
# file name, who looks, the page, what must be on it before the picture is taken
SHOTS = (
    ("console.png", "operator", "/", "Priya Shah"),
    ("console-workers.png", "admin", "/workers", "Tom Okafor"),
    ("console-fobs.png", "admin", "/devices", "spare"),
)
PASSWORDS = {"operator": DEMO_OPERATOR_PASSWORD, "admin": DEMO_ADMIN_PASSWORD}


@contextmanager
def demo_monitor(workdir: Path) -> Iterator[str]:
    """The monitor with the demo office, on a free loopback port; yields its URL."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    settings = Settings(
        environment="development",
        database_url=f"sqlite:///{workdir}/vigil.db",
        run_scheduler=False,  # the demo's clock is the script's: supervision runs once, below
    )
    app = create_app(settings)
    ids = build(app)
    with uvicorn_in_thread(app) as url:
        morning(app, url, ids)
        yield url
    app.state.db.engine.dispose()


def _log_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.click("button[type=submit]")
    page.wait_for_selector("#live:text('live')")


Shot = tuple[str, str, str, str]


def take(url: str, out_dir: Path, shots: tuple[Shot, ...] = SHOTS) -> list[Path]:
    """One PNG per shot; fails if a page lacks what it should show."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with launched() as browser:
        for name, who, path, must_show in shots:
            # A fresh context each: one person's session, no sound state carried over.
            ctx = browser.new_context(viewport=VIEWPORT, timezone_id="UTC", locale="en-GB")
            page = ctx.new_page()
            _log_in(page, url, who)
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            page.get_by_text(must_show).first.wait_for()
            # The click a person makes on arrival: the browser then lets the alarm sound play
            # and the "click to turn the sound on" banner goes.
            page.locator("h1").first.click()
            target = out_dir / name
            page.screenshot(path=str(target))
            written.append(target)
            ctx.close()
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.screenshot", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs"), help="where the PNGs go")
    parser.add_argument("--workdir", type=Path, default=Path("var/screenshot"))
    args = parser.parse_args(argv)
    with demo_monitor(args.workdir) as url:
        for path in take(url, args.out):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
