"""The `vigil gateway run` process itself: real CLI, real pty, real kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gateway.queue import FrameQueue
from host_tests.gateway.contract_monitor import TOKEN, ContractMonitor
from host_tests.gateway.fobwire import WireFob
from host_tests.support.gateway import KEYS, PtyFob

ROOT = Path(__file__).resolve().parents[2]
DEV_A = min(KEYS)


def _gateway(monitor: ContractMonitor, port: str, queue: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vigil.cli",
            "gateway",
            "run",
            "--monitor-url",
            monitor.url,
            "--token",
            TOKEN,
            "--serial",
            port,
            "--queue",
            str(queue),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _until(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _depth(queue: Path) -> int:
    if not queue.exists():
        return 0
    q = FrameQueue(queue)
    try:
        return q.depth()
    finally:
        q.close()


def test_kill_9_with_frames_queued_then_restart_delivers_each_exactly_once(
    monitor: ContractMonitor, pty_fob: PtyFob, tmp_path: Path
) -> None:
    queue = tmp_path / "queue.sqlite3"
    fob = WireFob(DEV_A, KEYS[DEV_A], pty_fob.write)
    monitor.stop()  # the monitor is unreachable, so frames pile up in the gateway's queue
    gw = _gateway(monitor, pty_fob.path, queue)
    try:
        pty_fob.wait_opened_by(gw.pid)
        sent = [fob.frame() for _ in range(20)]
        for raw in sent:
            fob.send(raw)
        _until(lambda: _depth(queue) == len(sent), 10, "all frames queued")
    finally:
        os.kill(gw.pid, signal.SIGKILL)
        gw.wait()
    assert gw.returncode == -signal.SIGKILL

    monitor.start()
    gw = _gateway(monitor, pty_fob.path, queue)
    try:
        _until(
            lambda: len(monitor.accepted) == len(sent) and _depth(queue) == 0,
            20,
            "queued frames delivered after restart",
        )
        time.sleep(0.3)
    finally:
        gw.send_signal(signal.SIGTERM)  # how systemd stops it
        gw.wait(timeout=10)
    assert gw.returncode == 0
    assert sorted(a["frame"] for a in monitor.accepted) == sorted(sent)
    assert sum(monitor.posts) == len(sent)  # each frame posted once: no resend after the ack


def test_run_without_a_token_says_what_to_set(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "vigil.cli",
            "gateway",
            "run",
            "--serial",
            "/dev/null",
            "--queue",
            str(tmp_path / "q.sqlite3"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "VIGIL_GATEWAY_TOKEN": ""},
        timeout=30,
    )
    assert out.returncode == 2
    assert "VIGIL_GATEWAY_TOKEN" in out.stderr
