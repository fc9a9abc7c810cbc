from __future__ import annotations

from collections.abc import Iterator

import pytest

from host_tests.gateway.contract_monitor import ContractMonitor
from host_tests.support.gateway import KEYS, PtyFob


@pytest.fixture
def monitor() -> Iterator[ContractMonitor]:
    m = ContractMonitor(dict(KEYS))
    m.start()
    yield m
    m.stop()


@pytest.fixture
def pty_fob() -> Iterator[PtyFob]:
    fob = PtyFob()
    yield fob
    fob.close()
