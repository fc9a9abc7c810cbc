"""Asyncio loops that wait for a commit: woken thread-safely from the worker thread that commits.

The scheduler's tick and the ARC forwarder each wait for their interval or for the commit that
gives them work, whichever comes first. A commit happens in a worker thread, so each waiter is
set through its own loop's call_soon_threadsafe: no thread sits blocked past shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class Waiters:
    def __init__(self) -> None:
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._guard = threading.Lock()

    def add(self, loop: asyncio.AbstractEventLoop, waiter: asyncio.Event) -> None:
        with self._guard:
            self._waiting.add((loop, waiter))

    def remove(self, loop: asyncio.AbstractEventLoop, waiter: asyncio.Event) -> None:
        with self._guard:
            self._waiting.discard((loop, waiter))

    def wake(self) -> None:
        with self._guard:
            waiting = list(self._waiting)
        for loop, waiter in waiting:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(waiter.set)
