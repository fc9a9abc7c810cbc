"""Shared fixtures: the two interpreters that every device-code test runs on."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devstack.interpreters import CPython, Interpreter, MicroPython  # noqa: E402

# Device tests cross a process boundary per example on MicroPython: allow for it, and keep CI
# runs reproducible.
settings.register_profile(
    "vigil", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("ci", parent=settings.get_profile("vigil"), derandomize=True)
settings.load_profile("ci" if "CI" in __import__("os").environ else "vigil")


@pytest.fixture(scope="session")
def micropython() -> Iterator[MicroPython]:
    mp = MicroPython()
    yield mp
    mp.close()


@pytest.fixture(scope="session", params=["cpython", "micropython"])
def device(request: pytest.FixtureRequest) -> Interpreter:
    """Device code's interpreter: every test using it runs on CPython and on real MicroPython."""
    if request.param == "cpython":
        return CPython()
    return request.getfixturevalue("micropython")
