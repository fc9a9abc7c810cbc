"""Errors an engineer sees: each says what went wrong and what to do next."""

from __future__ import annotations


class ToolingError(Exception):
    """Base for engineers' tooling errors; ``hint`` is the next thing to try."""

    hint = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class BuildError(ToolingError):
    hint = "Fix the file named above; it must compile for MicroPython (mpy-cross)."


class PortError(ToolingError):
    hint = "Check the USB cable and the port name (`ls /dev/ttyUSB* /dev/ttyACM*`)."


class PortBusyError(PortError):
    hint = "Close whatever holds the port (a serial console, `vigil gateway`, another mpremote)."


class BootloaderError(ToolingError):
    hint = (
        "Hold BOOT (GPIO0) while pressing RESET/EN to enter the bootloader, then retry; "
        "on an M5StickC Plus2 use a data-capable USB-C cable."
    )


class WrongChipError(ToolingError):
    hint = "Use the MicroPython image built for this chip (ESP32 images do not run on ESP32-S3/C3)."


class ImageError(ToolingError):
    hint = "Download the MicroPython .bin for your board again; the file is not a valid image."


class DeployError(ToolingError):
    hint = (
        "Reset the board and retry; if it keeps failing, re-flash MicroPython with --micropython."
    )


class VerifyError(DeployError):
    hint = (
        "A file on the board differs from the build: retry the deploy; "
        "if it persists, the board's flash may be failing."
    )
