"""The engineer's tooling tests: firmware images to flash."""

from __future__ import annotations

from pathlib import Path

from esptool.bin_image import ESP32FirmwareImage, ImageSegment


def esp_image(path: Path, cls: type = ESP32FirmwareImage) -> Path:
    # A structurally valid image made by esptool itself: one data segment, an entry point.
    img = cls()
    seg = ImageSegment(0x3FFB0000, b"\x00" * 64)
    seg.name = ".dram0.data"
    img.segments = [seg]
    img.entrypoint = 0x40080000
    img.save(str(path))
    return path
