"""MicroPython's unix port built with NimBLE, the BLE host stack of the ESP32 port, so the real
`firmware/ble_link.py` (aioble) runs against bumble centrals: NimBLE reaches a bumble controller
on a pty (MICROPYBTUART), joined to the centrals' controllers by a LocalLink.

The WebAssembly port has no Bluetooth and the registries carry no unix port, so it is built
once (about a minute on 2 cores) from the read-only MicroPython snapshot next to the project
(`../shared/micropython`, see its SOURCE.md) into `var/`, which is kept between runs.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT.parent / "shared" / "micropython"
BUILD = ROOT / "var" / "micropython-nimble"
BINARY = BUILD / "ports" / "unix" / "build-standard" / "micropython"
AIOBLE = SNAPSHOT / "lib" / "micropython-lib" / "micropython" / "bluetooth" / "aioble"
SCRIPT = Path(__file__).with_name("nimble_fob.py")
BUILD_TIMEOUT_S = 900  # two shared cores, other engineers' tests running too
_FLAGS = [
    "VARIANT=standard",
    "MICROPY_PY_BLUETOOTH=1",
    "MICROPY_BLUETOOTH_NIMBLE=1",
    "MICROPY_PY_BTREE=0",
    "MICROPY_PY_SSL=0",
    "MICROPY_PY_FFI=0",
]


class Unavailable(RuntimeError):
    """No MicroPython snapshot or no C toolchain here: the NimBLE checks cannot run."""


def unix_nimble() -> Path:
    """Path of the unix port with NimBLE, building it first if needed."""
    if BINARY.exists():
        return BINARY
    if not (SNAPSHOT / "ports" / "unix").is_dir():
        raise Unavailable(f"MicroPython snapshot not found at {SNAPSHOT}")
    if shutil.which("make") is None or shutil.which("gcc") is None:
        raise Unavailable("make and gcc are needed to build the MicroPython unix port")
    if not BUILD.exists():
        shutil.copytree(SNAPSHOT, BUILD, symlinks=True)  # the snapshot stays read-only
    for target, extra in (("mpy-cross", []), ("ports/unix", _FLAGS)):
        subprocess.run(
            ["make", "-C", target, "-j2", *extra],
            cwd=BUILD,
            check=True,
            capture_output=True,
            timeout=BUILD_TIMEOUT_S,
        )
    return BINARY
