"""Debian's Chromium for the browser tests (console, phone): devstack/chromium.py's launch
settings, and how long a test waits for the page."""

from __future__ import annotations

from devstack.chromium import ARGS, CHROMIUM

__all__ = ["ARGS", "CHROMIUM", "UI_TIMEOUT_MS"]

UI_TIMEOUT_MS = 10_000
