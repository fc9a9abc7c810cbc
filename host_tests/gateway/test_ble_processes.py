"""BLE across real processes: the simulated air, `vigil gateway pair` and `vigil gateway run`
on bumble over HCI-on-TCP, and the simulated fob's firmware-facing BleLink."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from devstack.localstack import free_port, pair_fob
from hardware.sim.ble import BleLink
from host_tests.gateway.contract_monitor import TOKEN, ContractMonitor
from host_tests.support.gateway import KEYS
from protocol import frame_types, frames

ROOT = Path(__file__).resolve().parents[2]
DEV = min(KEYS)


class _FirmwareSide:
    """What BleLink.attach() receives on the device: something with on_downlink()."""

    def __init__(self) -> None:
        self.downlinks: list[bytes] = []

    def on_downlink(self, data: bytes) -> None:
        self.downlinks.append(bytes(data))


def _until(pred: object, timeout: float, what: str, tick: object = None) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if tick is not None:
            tick()  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        time.sleep(0.01)


def test_pair_then_run_over_the_simulated_air(monitor: ContractMonitor, tmp_path: Path) -> None:
    gw_port, fob_port = free_port(), free_port()
    air = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hardware.sim.ble",
            "air",
            f"tcp-server:127.0.0.1:{gw_port}",
            f"tcp-server:127.0.0.1:{fob_port}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    procs: list[subprocess.Popen[bytes]] = [air]
    try:
        assert air.stdout is not None and air.stdout.readline().startswith(b"air up")
        link = BleLink(
            hci=f"tcp-client:127.0.0.1:{fob_port}",
            address="F0:00:00:00:00:07",
            device_id=DEV,
            bonds=str(tmp_path / "fob-bonds.json"),
        )
        assert link.error is None
        firmware = _FirmwareSide()
        link.attach(firmware)
        allow = tmp_path / "fobs.json"
        hci = f"tcp-client:127.0.0.1:{gw_port}"
        link.ble.pairable = True  # the five taps (no firmware behind this link: see _FirmwareSide)
        pair = pair_fob(allow, hci, timeout_s=10)
        assert pair.returncode == 0, pair.stderr
        assert "F0:00:00:00:00:07" in allow.read_text()
        # The first bond closes the window; the bond must carry the rest.
        _until(lambda: not link.ble.pairable, 5, "the window to close at the bond", tick=link.poll)
        assert link.ble.window.bonds == 1
        gw = subprocess.Popen(
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
                "--ble",
                "--ble-hci",
                hci,
                "--allowlist",
                str(allow),
                "--queue",
                str(tmp_path / "q.sqlite3"),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(gw)
        _until(lambda: link.up, 20, "the gateway to reconnect on the bond from `pair`")
        sos = frames.encode(frame_types.SOS, DEV, 1, (81, 0, 0), KEYS[DEV])
        assert link.send(sos)
        _until(lambda: firmware.downlinks, 10, "the ack", tick=link.poll)
        ack = frames.decode(firmware.downlinks[0], KEYS[DEV], expect=frame_types.DOWNLINK)
        assert (ack.ftype, ack.fields) == (frame_types.ACK, (1,))
        assert monitor.accepted[0]["link"] == "ble"
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(10)
