"""`vigil flash`: images checked before the board is touched, clear errors for every failure we
can produce without a board, and a real deploy with mpremote to real MicroPython on a pty."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from esptool.bin_image import ESP32S3FirmwareImage

from devstack.mpy.repl_bridge import WasmBoard
from host_tests.support.tooling import esp_image
from tooling import flash
from tooling.build import build
from tooling.errors import BootloaderError, ImageError, PortError, WrongChipError


@pytest.mark.parametrize(
    ("chip", "offset"), [("esp32", 0x1000), ("esp32s2", 0x1000), ("esp32s3", 0x0), ("esp32c3", 0x0)]
)
def test_offset_per_chip_family(chip: str, offset: int) -> None:
    assert flash.flash_offset(chip) == offset


def test_image_chip_is_read_from_its_header(tmp_path: Path) -> None:
    assert flash.image_chip(esp_image(tmp_path / "a.bin")) == "esp32"
    assert flash.image_chip(esp_image(tmp_path / "b.bin", ESP32S3FirmwareImage)) == "esp32s3"


def test_not_an_image_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "firmware.bin"
    bad.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(ImageError):
        flash.image_chip(bad)


def test_image_for_another_chip_is_refused_before_touching_the_board(tmp_path: Path) -> None:
    s3 = esp_image(tmp_path / "s3.bin", ESP32S3FirmwareImage)
    with pytest.raises(WrongChipError) as err:
        flash.write_image("/dev/does-not-matter", s3, "esp32")
    assert "esp32s3" in str(err.value)


def test_missing_port_says_so(tmp_path: Path) -> None:
    with pytest.raises(PortError) as err:
        flash.write_image("/dev/ttyUSB97", esp_image(tmp_path / "a.bin"), "esp32")
    assert "ttyUSB97" in str(err.value) and err.value.hint


def test_silent_port_means_not_in_bootloader(tmp_path: Path) -> None:
    # A real serial port (a pty) where no ESP ROM bootloader answers: what a board that is not in
    # download mode looks like to esptool.
    master, slave = os.openpty()
    try:
        with pytest.raises(BootloaderError) as err:
            flash.write_image(
                os.ttyname(slave), esp_image(tmp_path / "a.bin"), "esp32", connect_attempts=1
            )
        assert "BOOT" in err.value.hint
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.micropython
def test_deploy_to_real_micropython_verifies_every_file(tmp_path: Path) -> None:
    build("m5stickc-plus2", tmp_path)
    steps: list[str] = []
    with WasmBoard() as board:
        # mip needs micropython.org, which this machine cannot reach: packages are skipped here.
        n = flash.deploy(board.port, tmp_path / "m5stickc-plus2", steps.append, mip_packages=())
        assert n > 10
        assert steps[-2:] == ["verifying", "resetting"]
        # The .mpy files run: import the protocol from the deployed bytecode.
        res = flash.mpremote(
            board.port,
            "exec",
            "import sys; sys.path.insert(0, '/lib')\n"
            "from protocol import frames\n"
            "print(open('/board.txt').read().strip(), frames.FRAME_LEN, frames.__file__)",
        )
        assert res.returncode == 0, res.stderr
        assert res.stdout.split()[:2] == ["m5stickc-plus2", "20"]
        assert res.stdout.split()[2].endswith(".mpy")
