"""Debian's Chromium as the tests and benches launch it (console, phone app)."""

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
