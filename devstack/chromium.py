"""Debian's Chromium as the tests and benches launch it (console, phone app)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser

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


@contextlib.contextmanager
def launched(*extra_args: str) -> Iterator[Browser]:
    """Headless Debian Chromium with those flags (and `extra_args`), closed on exit."""
    from playwright.sync_api import sync_playwright  # only what drives a browser needs it

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*ARGS, *extra_args])
        yield b
        b.close()
