"""Debian's Chromium for the browser tests (console, phone)."""

from __future__ import annotations

# Debian's chromium, with the flags this closed network needs: without the background-networking
# ones it keeps trying hosts it cannot reach.
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
UI_TIMEOUT_MS = 10_000
