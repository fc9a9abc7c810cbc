"""Fixtures for firmware tests: a fresh flash directory on whichever interpreter runs the code."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devstack.interpreters import Interpreter
from host_tests.support.firmware import DEVICE_ID, KEY
from protocol import frame_types as ft
from protocol import frames

_seq = itertools.count()


@pytest.fixture(scope="session")
def new_root(device: Interpreter) -> Iterator[Callable[[], str]]:
    """Returns a function making an empty flash directory (one per hypothesis example)."""
    made: list[str] = []

    def make() -> str:
        if device.name == "cpython":
            path = tempfile.mkdtemp(prefix="vigil-flash-")
            made.append(path)
            return path
        return f"/flash{next(_seq)}"  # the WebAssembly port's in-memory file system

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def scenario(device: Interpreter, new_root: Callable[[], str]) -> Callable[..., dict[str, Any]]:
    """Runs hardware.sim.scenario on the device, provisioned as DEVICE_ID with KEY by default."""

    def run(
        steps: list[list[Any]], config: dict[str, Any] | None = None, provisioned: bool = True
    ) -> dict[str, Any]:
        dev, key = (DEVICE_ID, KEY.hex()) if provisioned else (None, None)
        log: dict[str, Any] = device.call(
            "hardware.sim.scenario:run", new_root(), steps, dev, key, config or {}
        )
        log["frames"] = (
            [(t, frames.decode(bytes.fromhex(h), KEY, expect=ft.UPLINK)) for t, h in log["sent"]]
            if provisioned
            else []
        )
        return log

    return run
