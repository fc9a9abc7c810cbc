"""The relay over real ptys against a real uvicorn speaking the monitor contract."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

import gateway.relay as relay_mod
from gateway.monitor_client import MonitorClient
from gateway.queue import FrameQueue
from gateway.relay import Relay
from gateway.serial_transport import SerialTransport, detect_ports
from gateway.transport import FobLink, FrameSink, Transport
from host_tests.gateway.contract_monitor import TOKEN, ContractMonitor
from host_tests.gateway.fobwire import WireFob, wait_for
from host_tests.support.gateway import KEYS, PtyFob
from protocol import frame_types, frames, framing

DEV_A, DEV_B = sorted(KEYS)
SITE = {"lat": 51.5, "lon": -0.12, "accuracy_m": 30.0}


async def _with_relay(
    monitor: ContractMonitor,
    ports: list[str],
    tmp: Path,
    body: Callable[[Relay], Awaitable[None]],
    transport: SerialTransport | None = None,
) -> Relay:
    queue = FrameQueue(tmp / "q.sqlite3")
    client = MonitorClient(monitor.url, TOKEN)
    relay = Relay(
        queue, client, [transport or SerialTransport(ports)], location=SITE, health_interval=0.2
    )
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: relay.counters["link_up"] >= len(ports) or task.done())
        await body(relay)
    finally:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
        await client.aclose()
        queue.close()
    return relay


def test_sos_over_a_pty_reaches_the_monitor_and_the_ack_comes_back(
    monitor: ContractMonitor, pty_fob: PtyFob, tmp_path: Path
) -> None:
    fob = WireFob(DEV_A, KEYS[DEV_A], pty_fob.write)

    async def body(relay: Relay) -> None:
        sos = fob.frame(frame_types.SOS)
        fob.send(sos)
        await wait_for(lambda: fob.received, poll=lambda: fob.feed(pty_fob.read()))
        assert fob.received[0].ftype == frame_types.ACK
        assert fob.received[0].fields == (fob.counter,)
        got = monitor.accepted[0]
        assert got["frame"] == sos and got["link"] == "serial"
        assert got["location"] == SITE  # the alarm carries the gateway site
        assert got["received_at"].endswith("Z")
        hb = fob.frame(frame_types.HEARTBEAT, (90, 0, 0, 1))
        fob.send(hb)
        await wait_for(lambda: len(monitor.accepted) == 2)
        assert monitor.accepted[1]["location"] is None  # no tracking by heartbeat
        await wait_for(lambda: relay.queue.depth() == 0)

    asyncio.run(_with_relay(monitor, [pty_fob.path], tmp_path, body))


def test_garbage_between_frames_is_counted_and_loses_no_good_frame(
    monitor: ContractMonitor, pty_fob: PtyFob, tmp_path: Path
) -> None:
    fob = WireFob(DEV_A, KEYS[DEV_A], pty_fob.write)
    other = frames.encode(frame_types.SOS, 0x00ABCD, 1, (1, 0, 0), bytes(32))  # unknown device
    forged = bytearray(fob.frame())
    forged[-1] ^= 1

    async def body(relay: Relay) -> None:
        good = [fob.frame() for _ in range(3)]
        pty_fob.write(b"\x13\x37noise\xff" * 20 + b"\x00")  # line noise, then resync
        fob.send(good[0])
        pty_fob.write(framing.encode(bytes([0x1F]) + bytes(19)))  # unknown version
        pty_fob.write(b"\x01" * 600 + b"\x00")  # oversize
        fob.send(bytes(forged))
        fob.send(good[1])
        fob.send(frames.encode(frame_types.ACK, DEV_A, 9, (1,), KEYS[DEV_A]))  # wrong direction
        fob.send(other)
        fob.send(good[2])
        await wait_for(lambda: len(monitor.accepted) == 3 and relay.queue.depth() == 0)
        assert [a["frame"] for a in monitor.accepted] == good
        assert relay.counters["bad_frame.wrong_direction"] == 1
        assert relay.counters["bad_frame.unknown_type"] == 1
        assert relay.counters["result.rejected"] == 2  # forged tag + unknown device
        transport = relay.transports[0]
        assert isinstance(transport, SerialTransport)
        assert transport.counters["framing_errors"] >= 2

    asyncio.run(_with_relay(monitor, [pty_fob.path], tmp_path, body))


def test_monitor_down_frames_wait_in_the_queue_and_arrive_once(
    monitor: ContractMonitor, pty_fob: PtyFob, tmp_path: Path
) -> None:
    fob = WireFob(DEV_A, KEYS[DEV_A], pty_fob.write)

    async def body(relay: Relay) -> None:
        monitor.stop()
        sent = [fob.frame() for _ in range(5)]
        for raw in sent:
            fob.send(raw)
        await wait_for(lambda: relay.queue.depth() == 5)
        await asyncio.sleep(0.8)  # a few failed attempts
        assert relay.counters["send_failure.MonitorUnreachable"] >= 1
        monitor.fail_next = 1  # back, but overloaded at first
        await asyncio.to_thread(monitor.start)
        await wait_for(lambda: relay.queue.depth() == 0, timeout=20)
        assert relay.counters["send_failure.MonitorOverloaded"] == 1
        assert sorted(a["frame"] for a in monitor.accepted) == sorted(sent)
        await wait_for(lambda: len(fob.received) >= 5, poll=lambda: fob.feed(pty_fob.read()))
        assert {f.fields[0] for f in fob.received} == set(range(1, 6))

    asyncio.run(_with_relay(monitor, [pty_fob.path], tmp_path, body))


def test_a_frame_the_monitor_cannot_parse_is_held_back_and_blocks_nothing(
    monitor: ContractMonitor, pty_fob: PtyFob, tmp_path: Path
) -> None:
    fob = WireFob(DEV_A, KEYS[DEV_A], pty_fob.write)

    async def body(relay: Relay) -> None:
        monitor.stop()  # so the three frames leave in one batch when it returns
        good1, poison, good2 = fob.frame(), fob.frame(), fob.frame()
        monitor.unparsable.add(poison.hex())
        for raw in (good1, poison, good2):
            fob.send(raw)
        await wait_for(lambda: relay.queue.depth() == 3)
        await asyncio.to_thread(monitor.start)
        await wait_for(lambda: len(monitor.accepted) == 2, timeout=15)
        assert [a["frame"] for a in monitor.accepted] == [good1, good2]
        await wait_for(lambda: relay.counters["held_frame"] == 1 and relay.queue.depth() == 1)
        held = relay.queue.batch(10)
        assert [q.frame for q in held] == [poison] and held[0].held  # kept, not deleted

    asyncio.run(_with_relay(monitor, [pty_fob.path], tmp_path, body))


def test_downlink_goes_to_the_right_fob_of_two(monitor: ContractMonitor, tmp_path: Path) -> None:
    pa, pb = PtyFob(), PtyFob()
    fa = WireFob(DEV_A, KEYS[DEV_A], pa.write)
    fb = WireFob(DEV_B, KEYS[DEV_B], pb.write)

    async def body(relay: Relay) -> None:
        fa.send(fa.frame())
        fb.send(fb.frame(frame_types.HEARTBEAT, (80, 0, 0, 1)))
        await wait_for(
            lambda: len(fa.received) == 1 and len(fb.received) == 1,
            poll=lambda: (fa.feed(pa.read()), fb.feed(pb.read())),
        )
        help_ = frames.encode(frame_types.ACK_HELP, DEV_A, 500, (fa.counter,), KEYS[DEV_A])
        monitor.push_downlink(DEV_A, help_)
        await wait_for(lambda: len(fa.received) == 2, poll=lambda: fa.feed(pa.read()))
        assert fa.received[1].ftype == frame_types.ACK_HELP
        await asyncio.sleep(0.1)
        fb.feed(pb.read())
        assert len(fb.received) == 1  # B saw nothing of A's downlink

        def links() -> set[tuple[int, bool]]:
            return {(lk["device_id"], lk["connected"]) for lk in monitor.health[-1]["links"]}

        await wait_for(lambda: monitor.health and links() == {(DEV_A, True), (DEV_B, True)})
        assert monitor.health[-1]["queue_depth"] == 0
        assert {lk["port"] for lk in monitor.health[-1]["links"]} == {pa.path, pb.path}

    try:
        asyncio.run(_with_relay(monitor, [pa.path, pb.path], tmp_path, body))
    finally:
        pa.close()
        pb.close()


def test_unplugged_port_is_reopened_when_it_comes_back(
    monitor: ContractMonitor, tmp_path: Path
) -> None:
    # A stable name for a changing device, the way udev's /dev/serial/by-id/... behaves.
    link = tmp_path / "fob0"
    first = PtyFob()
    os.symlink(first.path, link)
    fob = WireFob(DEV_A, KEYS[DEV_A], first.write)
    second = PtyFob()

    async def body(relay: Relay) -> None:
        fob.send(fob.frame())
        await wait_for(lambda: len(monitor.accepted) == 1)
        first.close()  # unplugged
        await wait_for(lambda: relay.counters["link_down"] == 1)
        os.unlink(link)
        os.symlink(second.path, link)  # plugged back in, new device node
        await wait_for(lambda: relay.counters["link_up"] == 2, timeout=10)
        fob._write = second.write
        fob.send(fob.frame())
        await wait_for(lambda: len(monitor.accepted) == 2)
        await wait_for(lambda: fob.received, poll=lambda: fob.feed(second.read()))

    try:
        asyncio.run(_with_relay(monitor, [str(link)], tmp_path, body))
    finally:
        second.close()


def test_auto_detect_picks_ports_by_usb_vendor_and_product() -> None:
    class Port:
        def __init__(self, device: str, vid: int | None, pid: int | None) -> None:
            self.device, self.vid, self.pid = device, vid, pid

    ports = [
        Port("/dev/ttyACM0", 0x303A, 0x1001),
        Port("/dev/ttyS0", None, None),
        Port("/dev/ttyUSB3", 0x10C4, 0xEA60),
        Port("/dev/ttyUSB4", 0x2341, 0x0043),
    ]
    assert detect_ports(comports=lambda: ports) == ["/dev/ttyACM0", "/dev/ttyUSB3"]


class _BrokenTransport(Transport):
    """Stands for a transport that fails (no Bluetooth adapter, a bug): runs raise."""

    def __init__(self) -> None:
        self.starts = 0

    async def run(self, sink: FrameSink) -> None:
        self.starts += 1
        raise RuntimeError("no adapter")

    def links(self) -> list[FobLink]:
        return []


def test_a_failing_transport_is_restarted_and_serial_keeps_relaying(
    monitor: ContractMonitor, pty_fob: PtyFob, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relay_mod, "RESTART_S", 0.05)
    broken = _BrokenTransport()
    fob = WireFob(DEV_A, KEYS[DEV_A], pty_fob.write)

    async def main() -> None:
        queue = FrameQueue(tmp_path / "q.sqlite3")
        client = MonitorClient(monitor.url, TOKEN)
        relay = Relay(queue, client, [broken, SerialTransport([pty_fob.path])])
        task = asyncio.create_task(relay.run())
        try:
            await wait_for(lambda: relay.counters["link_up"] == 1 and broken.starts >= 3)
            fob.send(fob.frame())
            await wait_for(lambda: fob.received, poll=lambda: fob.feed(pty_fob.read()))
            assert relay.counters["restart._BrokenTransport"] >= 2
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await client.aclose()
            queue.close()

    asyncio.run(main())


def test_help_for_a_fob_away_survives_a_gateway_restart(
    monitor: ContractMonitor, tmp_path: Path
) -> None:
    # The operator acknowledges while the fob is unplugged and the gateway restarts meanwhile:
    # ACK_HELP is held in the queue file and delivered once the fob is back and heard from.
    first = PtyFob()
    fob = WireFob(DEV_A, KEYS[DEV_A], first.write)
    help_ = frames.encode(frame_types.ACK_HELP, DEV_A, 900, (1,), KEYS[DEV_A])

    async def before(relay: Relay) -> None:
        fob.send(fob.frame())
        await wait_for(lambda: relay.queue.depth() == 0 and len(monitor.accepted) == 1)
        first.close()  # unplugged
        await wait_for(lambda: relay.counters["link_down"] == 1)
        monitor.push_downlink(DEV_A, help_)
        await wait_for(lambda: relay.counters["downlink_pending"] == 1)

    second = PtyFob()

    async def after(relay: Relay) -> None:
        fob._write = second.write
        fob.send(fob.frame())  # heard from again: the monitor vouches for it, help follows
        await wait_for(
            lambda: any(f.ftype == frame_types.ACK_HELP for f in fob.received),
            poll=lambda: fob.feed(second.read()),
        )

    try:
        asyncio.run(_with_relay(monitor, [first.path], tmp_path, before))
        asyncio.run(_with_relay(monitor, [second.path], tmp_path, after))  # same queue file
    finally:
        second.close()


def test_help_for_a_fob_away_is_aged_from_when_the_monitor_queued_it(
    monitor: ContractMonitor, tmp_path: Path
) -> None:
    # Issue 11, finding 2: the gateway's 15-minute limit counted from its own poll, so a
    # downlink the monitor had held for 14 minutes could be held for 15 more. Now one the
    # monitor queued just under the limit ago expires here while the fob is away, and one over
    # the limit is not obeyed at all.
    pty = PtyFob()
    fob = WireFob(DEV_A, KEYS[DEV_A], pty.write)
    ttl = int(relay_mod.PENDING_DOWNLINK_TTL_S)
    late = frames.encode(frame_types.ACK_HELP, DEV_A, 900, (1,), KEYS[DEV_A])
    stale = frames.encode(frame_types.ACK_HELP, DEV_A, 901, (1,), KEYS[DEV_A])
    fresh = frames.encode(frame_types.ACK_RESOLVED, DEV_A, 902, (1,), KEYS[DEV_A])

    async def body(relay: Relay) -> None:
        fob.send(fob.frame())
        await wait_for(lambda: relay.queue.depth() == 0 and len(monitor.accepted) == 1)
        relay._by_device.clear()  # the fob is away (its link forgotten, as after link_down)
        monitor.push_downlink(DEV_A, stale, age_s=ttl + 1)
        await wait_for(lambda: relay.counters["downlink_expired"] == 1)
        monitor.push_downlink(DEV_A, late, age_s=ttl - 1)
        monitor.push_downlink(DEV_A, fresh)
        await wait_for(lambda: relay.counters["downlink_pending"] == 2)
        await asyncio.sleep(1.5)  # the late one is now past the limit
        fob.send(fob.frame())  # back: only what is still young enough follows
        await wait_for(lambda: fob.received, poll=lambda: fob.feed(pty.read()))
        await wait_for(lambda: relay.counters["downlink_delivered"] >= 1)
        await asyncio.sleep(0.5)
        fob.feed(pty.read())
        assert [f.counter for f in fob.received if f.ftype != frame_types.ACK] == [902]

    try:
        asyncio.run(_with_relay(monitor, [pty.path], tmp_path, body))
    finally:
        pty.close()
