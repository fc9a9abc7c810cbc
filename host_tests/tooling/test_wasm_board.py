"""mpremote, the real tool engineers use, against real MicroPython on a pseudo-terminal."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.mpy.repl_bridge import ROOT, WasmBoard

pytestmark = pytest.mark.micropython  # the WebAssembly port behind a pty

MPREMOTE = Path(sys.executable).with_name("mpremote")


def mpremote(port: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MPREMOTE), "connect", port, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


@pytest.fixture(scope="module")
def board() -> WasmBoard:
    with WasmBoard() as b:
        yield b


def test_mpremote_runs_code_on_the_board(board: WasmBoard) -> None:
    res = mpremote(board.port, "exec", "import sys; print(sys.implementation.name, 6 * 7)")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "micropython 42"


def test_mpremote_copies_the_protocol_package_and_it_imports(board: WasmBoard) -> None:
    assert mpremote(board.port, "fs", "mkdir", ":lib").returncode == 0
    res = mpremote(board.port, "fs", "cp", "-r", "protocol", ":lib/")
    assert res.returncode == 0, res.stderr
    res = mpremote(
        board.port,
        "exec",
        "import sys; sys.path.append('/lib')\n"
        "from protocol import frames\n"
        "print(frames.encode(1, 5, 9, (50, 0, 0), bytes(16)).hex())",
    )
    assert res.returncode == 0, res.stderr
    from protocol import frames

    assert res.stdout.strip() == frames.encode(1, 5, 9, (50, 0, 0), bytes(16)).hex()


def test_hash_read_back_matches_the_host_file(board: WasmBoard) -> None:
    src = ROOT / "protocol" / "frames.py"
    assert mpremote(board.port, "fs", "cp", str(src), ":frames_copy.py").returncode == 0
    res = mpremote(board.port, "fs", "sha256sum", ":frames_copy.py")
    assert res.returncode == 0, res.stderr
    assert hashlib.sha256(src.read_bytes()).hexdigest() in res.stdout


def test_missing_file_is_reported_as_missing(board: WasmBoard) -> None:
    res = mpremote(board.port, "fs", "cat", ":no_such_file.py")
    assert res.returncode != 0
    assert "No such file" in res.stderr or "ENOENT" in res.stderr or "No such file" in res.stdout
