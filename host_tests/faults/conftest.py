from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_tests.faults.rig import Rig


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    r = Rig(Path(tmp_path_factory.mktemp("faults")))
    try:
        yield r
    finally:
        r.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from host_tests.faults.test_fault_schedules import TOTALS

    if TOTALS:
        faults = sum(n for k, n in TOTALS.items() if k.startswith("fault."))
        terminalreporter.write_line(
            f"faults survived: {faults} " + json.dumps(dict(sorted(TOTALS.items())))
        )
