"""The alarm path end to end with every part real: the monitor (uvicorn + SQLite) and the gateway
as processes, a fob on a real pty (or on emulated BLE), an operator on the live SSE stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("monitor.demo", reason="the monitor is not merged into this tree yet")

from devstack.localstack import Demo, Operator, Proc, free_port, start_gateway, start_monitor  # noqa: E402
from host_tests.gateway.fobwire import WireFob  # noqa: E402
from host_tests.support.gateway import PtyFob  # noqa: E402
from protocol import frame_types  # noqa: E402

pytestmark = pytest.mark.slow
MONITOR_GRACE_S = 2.0  # uvicorn waits for open streams; ours are closed first anyway


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.demo = Demo.load()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.monitor: Proc | None = start_monitor(tmp / "monitor", self.port)
        self.operator = Operator(self.url, *self.demo.operator)
        self.gateway: Proc | None = None

    def start_gateway(self, serial: str) -> Proc:
        self.gateway = start_gateway(self.tmp / "gw", self.url, self.demo.gateway_token, [serial])
        return self.gateway

    def stop_monitor(self) -> None:
        self.operator.close()
        assert self.monitor is not None
        self.monitor.stop(grace=MONITOR_GRACE_S)

    def restart_monitor(self) -> None:
        self.monitor = start_monitor(self.tmp / "monitor", self.port)
        self.operator = Operator(self.url, *self.demo.operator)

    def close(self) -> None:
        self.operator.close()
        if self.gateway is not None:
            self.gateway.stop()
        if self.monitor is not None:
            self.monitor.stop(grace=MONITOR_GRACE_S)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    yield s
    s.close()


def _read_until(fob: WireFob, pty: PtyFob, pred: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"fob got only {fob.received}")
        fob.feed(pty.read())
        time.sleep(0.005)


def _wait_link(pty: PtyFob, gw: Proc) -> None:
    pty.wait_opened_by(gw.popen.pid)


def test_sos_over_serial_reaches_the_operator_and_help_comes_back(
    stack: Stack, pty_fob: PtyFob
) -> None:
    fob = WireFob(stack.demo.device_id, stack.demo.device_key, pty_fob.write)
    _wait_link(pty_fob, stack.start_gateway(pty_fob.path))
    sos = fob.frame(frame_types.SOS, (76, 0, 3))
    fob.send(sos)
    _at, alarm = stack.operator.next_alarm(kind="sos", status="open")
    assert alarm["device_id"] == stack.demo.device_id and alarm["link"] == "serial"
    assert alarm["worker"]["name"]
    _read_until(fob, pty_fob, lambda: fob.received)
    assert (fob.received[0].ftype, fob.received[0].fields) == (frame_types.ACK, (fob.counter,))
    stack.operator.acknowledge(alarm["id"])
    _read_until(
        fob, pty_fob, lambda: any(f.ftype == frame_types.ACK_HELP for f in fob.received), timeout=35
    )


def test_monitor_down_frames_queue_and_arrive_when_it_returns(
    stack: Stack, pty_fob: PtyFob
) -> None:
    fob = WireFob(stack.demo.device_id, stack.demo.device_key, pty_fob.write)
    _wait_link(pty_fob, stack.start_gateway(pty_fob.path))
    stack.stop_monitor()
    sent = [fob.frame(frame_types.SOS, (70, 0, i)) for i in range(3)]
    for raw in sent:
        fob.send(raw)
    time.sleep(2.0)  # several failed attempts while the monitor is away
    assert fob.deframer.frames == 0 and not fob.received
    stack.restart_monitor()
    _read_until(fob, pty_fob, lambda: len(fob.received) >= 3, timeout=30)
    assert sorted(f.fields[0] for f in fob.received if f.ftype == frame_types.ACK) == [1, 2, 3]
    alarms = stack.operator.http.get("/v1/alarms", params={"status": "all"}).json()
    assert (
        sorted(a["device_id"] for a in alarms if a["kind"] == "sos") == [stack.demo.device_id] * 3
    )


def test_gateway_killed_with_frames_queued_delivers_each_exactly_once(
    stack: Stack, pty_fob: PtyFob
) -> None:
    fob = WireFob(stack.demo.device_id, stack.demo.device_key, pty_fob.write)
    stack.stop_monitor()
    gw = stack.start_gateway(pty_fob.path)
    _wait_link(pty_fob, gw)
    sent = [fob.frame(frame_types.SOS, (70, 0, i)) for i in range(5)]
    for raw in sent:
        fob.send(raw)
    time.sleep(1.0)
    gw.kill9()
    stack.restart_monitor()
    stack.start_gateway(pty_fob.path)  # nothing resent by the fob: only the queue has them
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        alarms = stack.operator.http.get("/v1/alarms", params={"status": "all"}).json()
        if len(alarms) >= 5:
            break
        time.sleep(0.2)
    time.sleep(1.0)  # any duplicate would have arrived by now
    alarms = stack.operator.http.get("/v1/alarms", params={"status": "all"}).json()
    assert len([a for a in alarms if a["kind"] == "sos"]) == 5


def test_sos_over_emulated_ble_reaches_the_operator_and_help_comes_back(
    stack: Stack, tmp_path: Path
) -> None:
    from bumble.link import LocalLink

    from gateway.ble_stack import BleStack
    from gateway.ble_transport import BleTransport
    from gateway.bumble_backend import central_on_link
    from gateway.monitor_client import MonitorClient
    from gateway.pairing import Allowlist, pair_new_fob
    from gateway.queue import FrameQueue
    from gateway.relay import Relay
    from hardware.sim.ble import BleFob
    from protocol import frames

    demo = stack.demo

    async def main() -> None:
        link = LocalLink()
        central = central_on_link(link, "F1:00:00:00:00:01")
        await central.power_on()
        fob = BleFob.on_local_link(link, "F0:00:00:00:00:01", demo.device_id)
        await fob.start()
        fob.pairable = True
        allow = Allowlist(tmp_path / "fobs.json")
        ble = BleStack.bumble(central)
        await pair_new_fob(allow, ble, scan_timeout=5)
        fob.pairable = False
        client = MonitorClient(stack.url, demo.gateway_token)
        relay = Relay(FrameQueue(tmp_path / "q.sqlite3"), client, [BleTransport(allow, ble)])
        task = asyncio.create_task(relay.run())
        try:
            deadline = time.monotonic() + 10
            while not fob.ready:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            sos = frames.encode(frame_types.SOS, demo.device_id, 1, (88, 0, 0), demo.device_key)
            assert await fob.send(sos)
            _at, alarm = await asyncio.to_thread(
                stack.operator.next_alarm, kind="sos", status="open"
            )
            assert alarm["link"] == "ble"
            await asyncio.to_thread(stack.operator.acknowledge, alarm["id"])
            deadline = time.monotonic() + 35
            while len(fob.downlinks) < 2:
                assert time.monotonic() < deadline, fob.downlinks
                await asyncio.sleep(0.02)
            kinds = [frames.decode(d, demo.device_key).ftype for d in fob.downlinks]
            assert kinds[:2] == [frame_types.ACK, frame_types.ACK_HELP]
        finally:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
            await client.aclose()

    asyncio.run(main())
