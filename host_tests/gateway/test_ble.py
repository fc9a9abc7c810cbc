"""BLE without a radio: the simulated fob's GATT peripheral and the gateway's bleak code, both on
bumble, joined by an in-memory LocalLink. Real ATT/GATT, MTU exchange and SMP pairing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from bleak.exc import BleakError
from bumble.link import LocalLink

from gateway import ble_profile
from gateway.ble_stack import BleStack
from gateway.ble_transport import BleTransport
from gateway.bumble_backend import central_on_link
from gateway.errors import PairingError
from gateway.monitor_client import MonitorClient
from gateway.pairing import Allowlist, pair_new_fob
from gateway.queue import FrameQueue
from gateway.relay import Relay
from hardware.sim.ble import BleFob
from host_tests.gateway.contract_monitor import TOKEN, ContractMonitor
from host_tests.gateway.fobwire import wait_for
from host_tests.support.gateway import KEYS
from protocol import frame_types, frames

DEV_A, DEV_B = sorted(KEYS)
FOB_A, FOB_B, FOB_C = "F0:00:00:00:01:01", "F0:00:00:00:01:02", "F0:00:00:00:01:03"
GW = "F1:00:00:00:00:01"


def _sos(device_id: int, counter: int) -> bytes:
    return frames.encode(frame_types.SOS, device_id, counter, (80, 0, 0), KEYS[device_id])


async def _radio(*fobs: tuple[str, int]) -> tuple[LocalLink, BleStack, list[BleFob]]:
    link = LocalLink()
    central = central_on_link(link, GW)
    await central.power_on()
    sims = [BleFob.on_local_link(link, addr, dev) for addr, dev in fobs]
    for s in sims:
        await s.start()
    return link, BleStack.bumble(central), sims


def test_pairing_bonds_a_fob_in_pairing_mode_and_lists_it(tmp_path: Path) -> None:
    async def main() -> None:
        _link, stack, (fob,) = await _radio((FOB_A, DEV_A))
        allow = Allowlist(tmp_path / "fobs.json")
        with pytest.raises(PairingError):  # not in pairing mode: SMP refuses
            await pair_new_fob(allow, stack, scan_timeout=2)
        assert FOB_A not in allow
        fob.pairable = True
        address, name = await pair_new_fob(allow, stack, scan_timeout=2)
        assert address == FOB_A and name == "Vigil-000101"
        assert FOB_A in Allowlist(tmp_path / "fobs.json")  # persisted
        keys = await fob.device.keystore.get_all()
        assert len(keys) == 1 and keys[0][1].ltk is not None  # an LE Secure Connections bond

    asyncio.run(main())


def test_unencrypted_client_can_neither_write_nor_get_frames() -> None:
    async def main() -> None:
        _link, stack, (fob,) = await _radio((FOB_A, DEV_A))
        scanner_found: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        scanner = stack.scanner(
            lambda d, a: scanner_found.done() or scanner_found.set_result(d),
            [ble_profile.SERVICE_UUID],
        )
        await scanner.start()
        device = await asyncio.wait_for(scanner_found, 5)
        await scanner.stop()
        client = stack.client(device, pair=False, timeout=5)  # type: ignore[arg-type]
        await client.connect()
        with pytest.raises(BleakError):
            await client.write_gatt_char(ble_profile.DOWNLINK_UUID, bytes(20), response=True)
        await client.start_notify(ble_profile.FRAME_UUID, lambda _c, _d: None)
        assert not fob.ready and await fob.send(_sos(DEV_A, 1)) is False
        assert fob.downlinks == []
        await client.disconnect()

    asyncio.run(main())


async def _with_ble_relay(
    monitor: ContractMonitor,
    tmp: Path,
    stack: BleStack,
    allow: Allowlist,
    body: Callable[[Relay, BleTransport], Awaitable[None]],
) -> None:
    queue = FrameQueue(tmp / "q.sqlite3")
    client = MonitorClient(monitor.url, TOKEN)
    transport = BleTransport(allow, stack)
    relay = Relay(queue, client, [transport], health_interval=0.2)
    task = asyncio.create_task(relay.run())
    try:
        await body(relay, transport)
    finally:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
        await client.aclose()
        queue.close()


def test_sos_over_emulated_ble_is_relayed_and_acked_and_help_reaches_the_fob(
    monitor: ContractMonitor, tmp_path: Path
) -> None:
    async def main() -> None:
        _link, stack, (fob, fob_b, stranger) = await _radio(
            (FOB_A, DEV_A), (FOB_B, DEV_B), (FOB_C, 0x0000FF)
        )
        allow = Allowlist(tmp_path / "fobs.json")
        for f in (fob, fob_b):
            f.pairable = True
            await pair_new_fob(allow, stack, address=f.address, scan_timeout=3)
            f.pairable = False

        async def body(relay: Relay, transport: BleTransport) -> None:
            await wait_for(lambda: fob.ready and fob_b.ready, timeout=10)
            assert await fob.send(_sos(DEV_A, 1))
            assert await fob_b.send(_sos(DEV_B, 7))
            await wait_for(lambda: fob.downlinks and fob_b.downlinks, timeout=5)
            ack = frames.decode(fob.downlinks[0], KEYS[DEV_A], expect=frame_types.DOWNLINK)
            assert (ack.ftype, ack.fields) == (frame_types.ACK, (1,))
            ack_b = frames.decode(fob_b.downlinks[0], KEYS[DEV_B], expect=frame_types.DOWNLINK)
            assert ack_b.fields == (7,)
            got = monitor.accepted[0]
            assert got["link"] == "ble" and isinstance(got["rssi"], int)
            # A short notification (a glitching fob) is counted and harms nobody.
            await fob.device.notify_subscribers(fob.frame_char, b"\x21\x00\x01")
            await wait_for(lambda: relay.counters["bad_frame.bad_length"] == 1)
            help_ = frames.encode(frame_types.ACK_HELP, DEV_A, 77, (1,), KEYS[DEV_A])
            monitor.push_downlink(DEV_A, help_)
            await wait_for(lambda: len(fob.downlinks) == 2, timeout=5)
            assert fob.downlinks[1] == help_
            assert len(fob_b.downlinks) == 1
            # The unpaired fob nearby was seen, counted and left alone.
            assert transport.counters["unpaired_fob_ignored"] == 1
            assert stranger.connection is None

            def ble_links() -> set[int]:
                report = monitor.health[-1]["links"] if monitor.health else []
                return {lk["device_id"] for lk in report if lk["link"] == "ble" and lk["connected"]}

            await wait_for(lambda: ble_links() == {DEV_A, DEV_B})

        await _with_ble_relay(monitor, tmp_path, stack, allow, body)

    asyncio.run(main())


def test_sos_raised_out_of_range_is_delivered_on_reconnect(
    monitor: ContractMonitor, tmp_path: Path
) -> None:
    async def main() -> None:
        _link, stack, (fob,) = await _radio((FOB_A, DEV_A))
        allow = Allowlist(tmp_path / "fobs.json")
        fob.pairable = True
        await pair_new_fob(allow, stack, scan_timeout=3)
        fob.pairable = False

        async def body(relay: Relay, transport: BleTransport) -> None:
            await wait_for(lambda: fob.ready, timeout=10)
            await fob.out_of_range()
            await wait_for(lambda: relay.counters["link_down"] == 1)
            outbox = [_sos(DEV_A, 5)]
            assert await fob.send(outbox[0]) is False  # nobody to hear it: stays in the outbox
            await asyncio.sleep(0.3)
            assert monitor.accepted == []
            await fob.back_in_range()
            await wait_for(lambda: fob.ready, timeout=10)  # reconnected on the bond, no re-pair
            assert await fob.send(outbox[0])
            await wait_for(lambda: fob.downlinks, timeout=5)
            assert [a["frame"] for a in monitor.accepted] == outbox
            assert relay.counters["link_up"] == 2

        await _with_ble_relay(monitor, tmp_path, stack, allow, body)

    asyncio.run(main())


def test_a_gateway_without_the_bond_is_refused(monitor: ContractMonitor, tmp_path: Path) -> None:
    async def main() -> None:
        link, stack, (fob,) = await _radio((FOB_A, DEV_A))
        allow = Allowlist(tmp_path / "fobs.json")
        allow.add(FOB_A, "Vigil-000101")  # listed, but this central never bonded
        other = central_on_link(link, "F1:00:00:00:00:02")
        await other.power_on()

        async def body(relay: Relay, transport: BleTransport) -> None:
            await wait_for(
                lambda: (
                    sum(v for k, v in transport.counters.items() if k.startswith("connect_failed"))
                    >= 1
                ),
                timeout=10,
            )
            assert not fob.ready and relay.counters["link_up"] == 0

        await _with_ble_relay(monitor, tmp_path, BleStack.bumble(other), allow, body)

    asyncio.run(main())
