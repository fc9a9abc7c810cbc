"""End to end with the real firmware on the simulated board (`hardware.sim.run_fob`): a
button-held SOS on a pty fob and on an emulated-BLE fob that is out of range when it raises."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("monitor.demo", reason="the monitor is not merged into this tree yet")
pytest.importorskip("hardware.sim.run_fob", reason="the firmware is not merged into this tree yet")

from devstack.localstack import (  # noqa: E402
    Demo,
    Operator,
    Proc,
    SimFob,
    free_port,
    pair_fob,
    start_air,
    start_gateway,
    start_monitor,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BLE_ADDRESS = "F0:00:00:00:00:09"


class Events:
    def __init__(self) -> None:
        self.q: queue.Queue[dict[str, Any]] = queue.Queue()

    def __call__(self, fob: SimFob, ev: dict[str, Any]) -> None:
        self.q.put(ev)

    def wait(self, timeout: float = 15.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            ev = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            if all(ev.get(k) == v for k, v in match.items()):
                return ev


@pytest.fixture
def system(tmp_path: Path) -> Iterator[dict[str, Any]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs: list[Proc] = [start_monitor(tmp_path / "monitor", port)]
    demo = Demo.load()
    op = Operator(url, *demo.operator)
    fobs: list[SimFob] = []
    yield {"url": url, "demo": demo, "op": op, "procs": procs, "fobs": fobs, "tmp": tmp_path}
    op.close()
    for f in fobs:
        f.stop()
    for p in reversed(procs):
        p.stop(grace=2.0)


def test_button_sos_on_a_pty_fob_reaches_the_operator_and_help_is_shown(
    system: dict[str, Any],
) -> None:
    tmp, demo, op = system["tmp"], system["demo"], system["op"]
    events = Events()
    tty = tmp / "fob.tty"
    fob = SimFob(
        "fob", tmp / "flash", demo.device_id, demo.device_key, ["--link-path", str(tty)], {}, events
    )
    system["fobs"].append(fob)
    system["procs"].append(start_gateway(tmp / "gw", system["url"], demo.gateway_token, [str(tty)]))
    events.wait(type="ack", event="downlink", timeout=20)  # boot heartbeat acked: link is up
    fob.command("sos")
    _at, alarm = op.next_alarm(timeout=15, kind="sos", status="open")
    assert alarm["link"] == "serial" and alarm["device_id"] == demo.device_id
    op.acknowledge(alarm["id"])
    events.wait(event="feedback", pattern="help_coming", timeout=35)


def test_ble_fob_out_of_range_raises_sos_and_it_arrives_on_reconnect(
    system: dict[str, Any],
) -> None:
    tmp, demo, op, procs = system["tmp"], system["demo"], system["op"], system["procs"]
    gw_air, fob_air = free_port(), free_port()
    procs.append(start_air(tmp, [gw_air, fob_air]))
    events = Events()
    fob = SimFob(
        "ble",
        tmp / "flash",
        demo.device_id,
        demo.device_key,
        ["--ble"],
        {
            "VIGIL_SIM_BLE_HCI": f"tcp-client:127.0.0.1:{fob_air}",
            "VIGIL_SIM_BLE_ADDRESS": BLE_ADDRESS,
            "VIGIL_SIM_BLE_BONDS": str(tmp / "fob-bonds.json"),
        },
        events,
    )
    system["fobs"].append(fob)
    hci = f"tcp-client:127.0.0.1:{gw_air}"
    allow = tmp / "gw" / "fobs.json"
    assert fob.open_pairing()  # five taps: the worker opens the pairing window
    pair = pair_fob(allow, hci, BLE_ADDRESS, 15)
    events.wait(event="feedback", pattern="pairing_bonded", timeout=15)
    assert pair.returncode == 0, pair.stderr
    procs.append(
        start_gateway(
            tmp / "gw",
            system["url"],
            demo.gateway_token,
            [],
            "--ble",
            "--ble-hci",
            hci,
            "--allowlist",
            str(allow),
        )
    )
    events.wait(type="ack", event="downlink", timeout=30)  # connected, bonded, acked
    fob.command("link down")  # the worker walks out of range
    time.sleep(1.0)
    fob.command("sos")
    events.wait(event="raised", type="sos")
    with pytest.raises(queue.Empty):
        op.events.get(timeout=2.0)  # nothing reaches the operator while out of range
    fob.command("link up")
    _at, alarm = op.next_alarm(timeout=30, kind="sos", status="open")
    assert alarm["link"] == "ble"
    op.acknowledge(alarm["id"])
    events.wait(event="feedback", pattern="help_coming", timeout=35)
