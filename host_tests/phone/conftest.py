"""Phone app fixtures: Debian's Chromium (Playwright) on the real monitor under uvicorn.

Helpers (a fresh phone browser, enrolment, the operator's stream) are in
host_tests/support/phone.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from devstack.localstack import uvicorn_in_thread
from host_tests.support.monitor import LiveServer, make_settings
from host_tests.support.phone import OperatorStream, Phone, enrol, new_context
from monitor.api.main import create_app
from monitor.seed import Seeded

GRACE_S = 1.0  # open long polls and streams are cut after this at shutdown


@pytest.fixture
def live_server(
    tmp_path: Path,
    sqlite_template: tuple[Path, Seeded],
) -> Iterator[LiveServer]:
    """host_tests/conftest.py's live server, but shut down without waiting for the
    phone's long poll (25 s) and the operator's stream to end by themselves."""
    shutil.copy(sqlite_template[0], tmp_path / "vigil.db")
    app = create_app(make_settings(f"sqlite:///{tmp_path}/vigil.db"))
    with uvicorn_in_thread(app, grace_s=GRACE_S) as url:
        yield LiveServer(app, url)
    app.state.db.engine.dispose()


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[Phone]:
    ctx = new_context(browser)
    page = ctx.new_page()
    enrol(page, live_server.url)
    yield Phone(ctx, page)
    ctx.close()


@pytest.fixture
def operator_stream(live_server: LiveServer) -> Iterator[OperatorStream]:
    s = OperatorStream(live_server.url)
    yield s
    s.close()
