"""The gateway tests' device keys and the fob end of a real pseudo-terminal."""

from __future__ import annotations

import os
import time

from gateway.transport import FobLink

KEYS = {0x000101: bytes(range(32)), 0x000102: bytes(range(1, 33))}


class PtyFob:
    """The fob end of a real pseudo-terminal: the gateway opens `path` like a USB serial port."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        os.close(slave)  # the gateway opens it by name, as it would /dev/ttyACM0
        os.set_blocking(self.master, False)

    def wait_opened_by(self, pid: int, timeout: float = 20.0) -> None:
        # pyserial flushes input when it opens a port: write only once the gateway has it open.
        deadline = time.monotonic() + timeout
        fd_dir = f"/proc/{pid}/fd"
        while time.monotonic() < deadline:
            try:
                if any(
                    os.path.realpath(f"{fd_dir}/{fd}") == self.path for fd in os.listdir(fd_dir)
                ):
                    time.sleep(0.1)  # opened, then flushed: give the flush a moment
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"process {pid} never opened {self.path}")

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def read(self) -> bytes:
        try:
            return os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return b""

    def close(self) -> None:
        try:
            os.close(self.master)
        except OSError:
            pass


class ConnectedLink(FobLink):
    """A link that is always up and swallows what is sent: for relay tests about the queue and
    the monitor, where no fob needs to hear back."""

    def __init__(self, port: str = "AA:BB:CC:DD:EE:FF") -> None:
        super().__init__("ble", port)

    @property
    def connected(self) -> bool:
        return True

    async def send(self, frame: bytes) -> None:
        return None
