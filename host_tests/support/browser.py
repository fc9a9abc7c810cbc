"""Debian's Chromium for the browser tests (console, phone): devstack/chromium.py's launch
settings, one launcher, and how long a test waits for the page."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from devstack.chromium import ARGS, CHROMIUM

__all__ = ["ARGS", "CHROMIUM", "UI_TIMEOUT_MS", "chromium"]

UI_TIMEOUT_MS = 10_000


@contextlib.contextmanager
def chromium(*extra_args: str) -> Iterator[Browser]:
    """Headless Debian Chromium with the closed network's flags (and `extra_args`)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make setup` (apt installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*ARGS, *extra_args])
        yield b
        b.close()
