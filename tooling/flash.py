"""`vigil flash`: write a MicroPython image with esptool, then deploy the build with mpremote.

esptool is used as a library (its public `esptool.cmds` API), mpremote as the command engineers
already know; both are the tools Espressif and MicroPython maintain, so we only sequence them,
check what they were given, and translate their failures into advice.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tooling.build import load_manifest
from tooling.errors import (
    BootloaderError,
    DeployError,
    ImageError,
    PortBusyError,
    PortError,
    VerifyError,
    WrongChipError,
)

# Where the first byte of a MicroPython firmware.bin goes, by chip family: the original ESP32 and
# the S2 boot their second-stage bootloader from 0x1000, later chips from 0x0.
FLASH_OFFSET = {"esp32": 0x1000, "esp32s2": 0x1000}
DEFAULT_OFFSET = 0x0
CONNECT_ATTEMPTS = 7  # esptool's default: resets with several timings before giving up
MPREMOTE_TIMEOUT_S = 120  # a full deploy over 115200 baud takes about 20 s; allow for slow hubs
# micropython-lib packages the firmware needs on a real ESP32 (BLE peripheral, bonding).
MIP_PACKAGES = ("aioble",)


def flash_offset(chip: str) -> int:
    return FLASH_OFFSET.get(chip, DEFAULT_OFFSET)


def image_chip(image: Path) -> str:
    """The chip family an ESP image was built for, read from its extended header."""
    from esptool.bin_image import LoadFirmwareImage
    from esptool.targets import CHIP_DEFS
    from esptool.util import FatalError

    try:
        data = image.read_bytes()
    except OSError as e:
        raise ImageError(f"cannot read {image}: {e.strerror}") from e
    try:
        parsed = LoadFirmwareImage("esp32", data)
    except (FatalError, RuntimeError, ValueError, IndexError) as e:
        raise ImageError(f"{image} is not an ESP firmware image ({e})") from e
    for name, loader in CHIP_DEFS.items():
        if getattr(loader, "IMAGE_CHIP_ID", None) == parsed.chip_id and name != "esp8266":
            return str(name)
    raise ImageError(f"{image} names unknown chip id {parsed.chip_id}")


def _normalise(chip_name: str) -> str:
    return chip_name.lower().replace("-", "").split("(")[0].strip()


def _connect(port: str, attempts: int) -> Any:
    import serial
    from esptool.cmds import detect_chip
    from esptool.util import FatalError

    if not Path(port).exists():
        raise PortError(f"serial port {port} does not exist")
    try:
        return detect_chip(port, connect_attempts=attempts)
    except serial.SerialException as e:
        text = str(e)
        if "busy" in text.lower() or "exclusive" in text.lower() or "lock" in text.lower():
            raise PortBusyError(f"serial port {port} is in use: {text}") from e
        raise PortError(f"cannot open {port}: {text}") from e
    except FatalError as e:
        raise BootloaderError(f"no ESP bootloader answered on {port}: {e}") from e


def write_image(
    port: str,
    image: Path,
    expected_chip: str,
    progress: Callable[[str], None] = lambda _: None,
    connect_attempts: int = CONNECT_ATTEMPTS,
) -> str:
    """Erase the flash and write `image`. Checks the image before touching the board."""
    built_for = image_chip(image)
    if built_for != expected_chip:
        raise WrongChipError(
            f"{image.name} is built for {built_for}, the board needs {expected_chip}"
        )
    progress("connecting to the bootloader")
    esp = _connect(port, connect_attempts)
    from esptool.cmds import erase_flash, reset_chip, write_flash

    try:
        found = _normalise(esp.CHIP_NAME)
        if found != built_for:
            raise WrongChipError(
                f"the board is an {esp.CHIP_NAME}; {image.name} is for {built_for}"
            )
        esp = esp.run_stub()
        progress("erasing flash")
        erase_flash(esp)
        progress(f"writing {image.name} at {flash_offset(found):#x}")
        write_flash(esp, [(flash_offset(found), str(image))])
        reset_chip(esp, "hard-reset")
    finally:
        esp._port.close()
    return found


def mpremote(port: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("mpremote")
    cmd = [str(exe) if exe.exists() else "mpremote", "connect", port, *args]
    try:
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=MPREMOTE_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise DeployError(
            f"mpremote timed out after {MPREMOTE_TIMEOUT_S} s: {' '.join(args)}"
        ) from e


def _check(res: subprocess.CompletedProcess[str], what: str) -> None:
    if res.returncode != 0:
        text = (res.stderr or res.stdout).strip()
        if "could not enter raw repl" in text or "failed to access" in text:
            raise PortBusyError(f"{what}: {text}")
        raise DeployError(f"{what} failed: {text}")


def deploy(
    port: str,
    dist: Path,
    progress: Callable[[str], None] = lambda _: None,
    mip_packages: tuple[str, ...] = MIP_PACKAGES,
) -> int:
    """Copy a build to the board, verify every file by its SHA-256 read back, reset the board.
    Returns the number of files verified."""
    manifest = load_manifest(dist)
    files: list[dict[str, Any]] = list(manifest["files"])  # type: ignore[call-overload]
    # Every folder a file lives in, parents before children (mkdir is not recursive).
    parents = {p.as_posix() for f in files for p in Path(f["path"]).parents} - {"."}
    dirs = sorted(parents, key=lambda d: (d.count("/"), d))
    for d in dirs:
        res = mpremote(port, "fs", "mkdir", f":{d}")
        if (
            res.returncode != 0
            and "EEXIST" not in res.stderr + res.stdout
            and "exists" not in res.stderr
        ):
            _check(res, f"mkdir {d}")
    for f in files:
        progress(f"copy {f['path']}")
        _check(
            mpremote(port, "fs", "cp", str(dist / f["path"]), f":{f['path']}"), f"copy {f['path']}"
        )
    for pkg in mip_packages:
        progress(f"mip install {pkg}")
        _check(mpremote(port, "mip", "install", pkg), f"mip install {pkg}")
    progress("verifying")
    res = mpremote(port, "fs", "sha256sum", *(f":{f['path']}" for f in files))
    _check(res, "read back hashes")
    on_board = res.stdout
    for f in files:
        if f["sha256"] not in on_board:
            raise VerifyError(f"{f['path']} on the board does not match the build")
    progress("resetting")
    res = mpremote(port, "reset")
    if res.returncode != 0 and "machine" in (res.stderr + res.stdout):
        # A port without `machine` (the WebAssembly one used in tests) can only soft-reset.
        res = mpremote(port, "soft-reset")
    _check(res, "reset")
    return len(files)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
