"""Debian's Chromium for the browser tests (console, phone): devstack/chromium.py's launch
settings, one launcher, and how long a test waits for the page."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from devstack.chromium import ARGS, CHROMIUM, launched

__all__ = ["ARGS", "CHROMIUM", "UI_TIMEOUT_MS", "chromium"]

UI_TIMEOUT_MS = 10_000


@contextlib.contextmanager
def chromium(*extra_args: str) -> Iterator[Browser]:
    """devstack's launcher, failing the test with what to do when Chromium is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make setup` (apt installs it)")
    with launched(*extra_args) as b:
        yield b
