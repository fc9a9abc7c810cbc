"""A MicroPython board on a pseudo-terminal: the WebAssembly port's REPL behind a real pty, so
`mpremote connect <pty>` deploys to it exactly as it would to an ESP32 on /dev/ttyUSB0.

    with WasmBoard() as board:
        subprocess.run(["mpremote", "connect", board.port, "fs", "ls"])
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import tty
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
REPL = Path(__file__).with_name("repl.mjs")
_CHUNK = 1024


class WasmBoard:
    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("Node.js is required for the MicroPython board")
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._proc = subprocess.Popen(
            [node, str(REPL)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT
        )
        self._threads = [
            threading.Thread(target=self._host_to_board, daemon=True),
            threading.Thread(target=self._board_to_host, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _host_to_board(self) -> None:
        assert self._proc.stdin is not None
        try:
            while data := os.read(self._master, _CHUNK):
                self._proc.stdin.write(data)
                self._proc.stdin.flush()
        except (OSError, ValueError):
            pass  # pty or pipe closed: the board is shutting down

    def _board_to_host(self) -> None:
        assert self._proc.stdout is not None
        try:
            while data := self._proc.stdout.read1(_CHUNK):  # type: ignore[attr-defined]
                os.write(self._master, data)
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait()
        for fd in (self._slave, self._master):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> WasmBoard:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
