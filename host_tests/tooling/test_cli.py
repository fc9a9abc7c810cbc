"""The engineer's commands as typed: progress, success lines, and errors that say what to do."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from host_tests.support.tooling import esp_image
from tooling.cli import register

app = typer.Typer()
register(app)
runner = CliRunner()


def test_build_reports_what_it_built(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["firmware", "build", "--board", "devkitc-mpu6050", "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert "built" in res.output and "devkitc-mpu6050" in res.output
    assert (tmp_path / "devkitc-mpu6050" / "manifest.json").exists()


def test_flash_without_a_build_says_to_build_first(tmp_path: Path) -> None:
    res = runner.invoke(app, ["flash", "--port", "/dev/null", "--dist", str(tmp_path)])
    assert res.exit_code == 1
    assert "vigil firmware build" in res.output


def test_flash_to_a_missing_port_says_what_to_check(tmp_path: Path) -> None:
    image = tmp_path / "micropython.bin"
    esp_image(image)
    res = runner.invoke(app, ["flash", "--port", "/dev/ttyUSB97", "--micropython", str(image)])
    assert res.exit_code == 1
    assert "does not exist" in res.output and "USB cable" in res.output
