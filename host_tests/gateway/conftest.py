from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from host_tests.gateway.contract_monitor import ContractMonitor

KEYS = {0x000101: bytes(range(32)), 0x000102: bytes(range(1, 33))}


@pytest.fixture
def monitor() -> Iterator[ContractMonitor]:
    m = ContractMonitor(dict(KEYS))
    m.start()
    yield m
    m.stop()


class PtyFob:
    """The fob end of a real pseudo-terminal: the gateway opens `path` like a USB serial port."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        os.close(slave)  # the gateway opens it by name, as it would /dev/ttyACM0
        os.set_blocking(self.master, False)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def read(self) -> bytes:
        try:
            return os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return b""

    def close(self) -> None:
        try:
            os.close(self.master)
        except OSError:
            pass


@pytest.fixture
def pty_fob() -> Iterator[PtyFob]:
    fob = PtyFob()
    yield fob
    fob.close()
