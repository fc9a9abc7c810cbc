"""End to end on real parts: the simulated fob process with its UART on a pseudo-terminal, a
reader using pyserial, frames verified with `protocol`, acks and provisioning written back."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import serial

from protocol import frame_types as ft
from protocol import frames, framing
from protocol import provisioning as pv

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes(range(16))
DEVICE_ID = 31
FAST = '{"sos_hold_ms": 400, "no_motion_s": 0, "heartbeat_s": 3600}'
READ_TIMEOUT_S = 10.0  # generous: two shared cores under a full test run


class FobProcess:
    def __init__(self, flash: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hardware.sim.run_fob", "--flash", str(flash), *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.ready = self.wait_for("ready")

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait_for(self, event: str, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + READ_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                e = self.events.get(timeout=0.1)
            except queue.Empty:
                continue
            if e["event"] == event and all(e.get(k) == v for k, v in match.items()):
                return e
        raise AssertionError(f"no {event} {match} from the simulated fob")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.send("quit")
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Reader:
    """What a gateway does with the port: deframe, split signed frames from provisioning."""

    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, 115200, timeout=0.05)
        self.deframer = framing.Deframer()
        self.payloads: list[bytes] = []

    def next(self, pred: Any) -> bytes:
        deadline = time.monotonic() + READ_TIMEOUT_S
        while time.monotonic() < deadline:
            for p in self.payloads:
                if pred(p):
                    self.payloads.remove(p)
                    return p
            self.payloads += self.deframer.feed(self.port.read(256))
        raise AssertionError("nothing matching on the serial line")

    def frame(self, ftype: int) -> frames.Frame:
        p = self.next(lambda p: len(p) == frames.FRAME_LEN and p[0] & 0x1F == ftype)
        return frames.decode(p, KEY, expect=ft.UPLINK)

    def prov(self, ptype: int, records: dict[int, Any] | None = None) -> tuple[int, dict[int, Any]]:
        self.port.write(framing.encode(pv.encode(ptype, records or {})))
        reply = self.next(lambda p: p[0] & 0x1F in (ft.PROV_INFO, ft.PROV_RESULT, ft.PROV_STATUS))
        return pv.decode(reply)


@pytest.fixture
def fob(tmp_path: Path) -> Iterator[FobProcess]:
    f = FobProcess(
        tmp_path / "flash",
        "--device-id",
        str(DEVICE_ID),
        "--key",
        KEY.hex(),
        "--config",
        FAST,
        "--link-path",
        str(tmp_path / "fob.tty"),
    )
    yield f
    f.stop()


def test_sos_frame_read_over_pty_with_pyserial_verifies_and_ack_help_reaches_worker(
    fob: FobProcess, tmp_path: Path
) -> None:
    assert os.path.realpath(tmp_path / "fob.tty") == fob.ready["pty"]
    reader = Reader(str(tmp_path / "fob.tty"))
    fob.send("sos")
    sos = reader.frame(ft.SOS)
    assert sos.device_id == DEVICE_ID and sos.as_dict()["age_s"] == 0
    ack = frames.encode(ft.ACK_HELP, DEVICE_ID, 1, (sos.counter,), KEY)
    reader.port.write(framing.encode(ack))
    fob.wait_for("feedback", pattern="help_coming")
    fob.send("status")
    assert fob.wait_for("status")["outbox"] <= 1  # at most the boot heartbeat, never the SOS


def test_noise_on_the_line_does_not_stop_the_next_ack(fob: FobProcess) -> None:
    reader = Reader(fob.ready["pty"])
    fob.send("sos")
    sos = reader.frame(ft.SOS)
    reader.port.write(b"\x13\x37garbage\x00\x00\xff" * 3)
    # A writer leads with a delimiter, as the fob does, so noise cannot glue onto its frame.
    ack = frames.encode(ft.ACK, DEVICE_ID, 1, (sos.counter,), KEY)
    reader.port.write(b"\x00" + framing.encode(ack))
    fob.wait_for("downlink", type="ack")


def test_alarm_raised_with_link_down_survives_reboot_and_arrives_flagged(fob: FobProcess) -> None:
    reader = Reader(fob.ready["pty"])
    fob.send("link down")
    fob.send("sos")
    counter = fob.wait_for("raised", type="sos")["counter"]
    fob.send("reboot")
    fob.wait_for("boot", outbox=1)
    fob.send("link up")
    sos = reader.frame(ft.SOS)
    assert sos.counter == counter and sos.as_dict()["age_lower_bound"]


def test_provisioning_over_the_pty_then_signed_test_frame(tmp_path: Path) -> None:
    fob = FobProcess(tmp_path / "flash", "--config", FAST)
    try:
        assert fob.ready["provisioned"] is False
        reader = Reader(fob.ready["pty"])
        fob.send("sos")
        fob.wait_for("feedback", pattern="not_provisioned")
        log = reader.next(lambda p: p[0] & 0x1F == ft.PROV_LOG)
        assert "not provisioned" in pv.decode(log)[1][pv.T_MESSAGE]
        t, info = reader.prov(ft.PROV_INFO_REQ)
        assert t == ft.PROV_INFO and info[pv.T_PROVISIONED] == 0
        t, res = reader.prov(ft.PROV_SET, {pv.T_DEVICE_ID: 99, pv.T_KEY: KEY})
        assert res[pv.T_RESULT] == pv.R_OK
        t, res = reader.prov(ft.PROV_SET, {pv.T_DEVICE_ID: 98, pv.T_KEY: KEY})
        assert res[pv.T_RESULT] == pv.R_ALREADY_PROVISIONED
        t, status = reader.prov(ft.PROV_STATUS_REQ, {pv.T_TEST_FRAME: 1})
        test = frames.decode(status[pv.T_TEST_FRAME], KEY, expect=ft.UPLINK)
        assert (test.ftype, test.device_id) == (ft.TEST, 99)
    finally:
        fob.stop()
