"""The fob's pairing window over emulated BLE: the real firmware (Fob on the simulated board, in
real time) behind the simulated fob's bumble peripheral, the gateway's real pairing and relay
code on a bumble central, joined by a LocalLink. Real SMP (LE Secure Connections), real ATT.

Outside the window a bond is refused, counted and the connection dropped; five taps open it and
the gateway bonds; the bonded gateway reconnects later without it; a stranger that connects and
never pairs is dropped after STRANGER_MS, and the bonded gateway then gets the fob's link."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from bumble.link import LocalLink

from firmware.config import Config
from firmware.identity import Identity
from firmware.pairing import STRANGER_MS
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
from hardware.sim.board import SimBoard
from hardware.sim.run_fob import ElapsedClock
from host_tests.gateway.contract_monitor import TOKEN, ContractMonitor
from host_tests.gateway.fobwire import wait_for
from host_tests.support.gateway import KEYS
from protocol import frame_types

DEV = min(KEYS)
FOB = "F0:00:00:00:02:01"
GW, OTHER_GW, STRANGER = "F1:00:00:00:02:01", "F1:00:00:00:02:02", "F1:00:00:00:02:03"
LOOP_S = 0.01  # the device's main loop period
TAP_EVERY_MS = 250


class _BleFobLink:
    """The firmware's link interface (hardware/README.md) on a BleFob in this same event loop:
    hardware.sim.ble.BleLink does the same across threads, for run_fob."""

    kind = "ble"

    def __init__(self, ble: BleFob) -> None:
        self.ble = ble

    @property
    def up(self) -> bool:
        return self.ble.ready

    def send(self, frame: bytes) -> bool:
        if not self.ble.ready:
            return False
        asyncio.ensure_future(self.ble.send(bytes(frame)))
        return True

    def poll(self) -> None:
        pass  # downlinks go straight to Fob.on_downlink: one thread here

    def attach(self, fob: object, admin: object = None) -> None:
        pass


class FirmwareFob:
    """The real firmware on the simulated board, its main loop a task, its BLE side a BleFob
    that asks the firmware's own pairing window (fob.pairing)."""

    def __init__(self, tmp: Path, link: LocalLink) -> None:
        self.patterns: list[str] = []
        self.board = SimBoard(str(tmp / "flash"), clock=ElapsedClock(), on_feedback=self._played)
        Identity(self.board.flash).set(DEV, KEYS[DEV])
        Config(self.board.flash).update({"no_motion_s": 0})
        # The board boots with no links; the BleFob needs the booted fob's window, then the
        # link is added for the fob's outbox to use.
        self.fob = self.board.boot()
        self.ble = BleFob.on_local_link(link, FOB, DEV, self._downlink, window=self.fob.pairing)
        self.fob.hw.links.append(_BleFobLink(self.ble))
        self._task: asyncio.Task[None] | None = None

    def _played(self, name: str, covert: bool) -> None:
        self.patterns.append(name)

    def _downlink(self, frame: bytes) -> None:
        self.fob.on_downlink(frame)

    async def start(self) -> None:
        await self.ble.start()
        self._task = asyncio.create_task(self._main_loop())

    async def _main_loop(self) -> None:
        while True:
            self.fob.poll()
            await asyncio.sleep(LOOP_S)

    async def five_taps(self) -> None:
        now = self.board.clock.elapsed
        for i in range(5):
            self.board.button.press(now + i * TAP_EVERY_MS, 100)
        await wait_for(lambda: "pairing_open" in self.patterns, timeout=5)

    async def hold_sos(self) -> None:
        self.board.button.press(self.board.clock.elapsed, self.fob.config["sos_hold_ms"] + 300)
        await wait_for(lambda: "sos_raised" in self.patterns, timeout=5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def _central(link: LocalLink, address: str) -> BleStack:
    central = central_on_link(link, address)
    await central.power_on()
    return BleStack.bumble(central)


async def _firmware_fob(tmp: Path) -> tuple[LocalLink, FirmwareFob]:
    link = LocalLink()
    fw = FirmwareFob(tmp, link)
    await fw.start()
    return link, fw


async def _connect_without_pairing(stack: BleStack) -> object:
    found: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    scanner = stack.scanner(
        lambda d, a: found.done() or found.set_result(d), [ble_profile.SERVICE_UUID]
    )
    await scanner.start()
    device = await asyncio.wait_for(found, 5)
    await scanner.stop()
    client = stack.client(device, pair=False, timeout=5)  # type: ignore[arg-type]
    await client.connect()
    return client


async def _relay(
    monitor: ContractMonitor,
    tmp: Path,
    stack: BleStack,
    allow: Allowlist,
    body: Callable[[Relay], Awaitable[None]],
) -> None:
    queue = FrameQueue(tmp / "q.sqlite3")
    client = MonitorClient(monitor.url, TOKEN)
    relay = Relay(queue, client, [BleTransport(allow, stack)], health_interval=0.2)
    task = asyncio.create_task(relay.run())
    try:
        await body(relay)
    finally:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
        await client.aclose()
        queue.close()


def test_bonding_outside_the_window_is_refused_counted_and_the_link_dropped(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        link, fw = await _firmware_fob(tmp_path)
        allow = Allowlist(tmp_path / "fobs.json")
        with pytest.raises(PairingError):
            await pair_new_fob(allow, await _central(link, GW), scan_timeout=3)
        assert FOB not in allow
        assert fw.fob.pairing.refused == 1 and fw.ble.pairing_refused == 1
        assert await fw.ble.device.keystore.get_all() == []  # no bond was made
        await wait_for(lambda: fw.ble.connection is None, timeout=5)  # dropped by the fob
        assert "pairing_bonded" not in fw.patterns
        await fw.stop()

    asyncio.run(main())


def test_five_taps_open_the_window_a_gateway_bonds_and_the_window_closes(tmp_path: Path) -> None:
    async def main() -> None:
        link, fw = await _firmware_fob(tmp_path)
        await fw.five_taps()
        assert fw.fob.pairing.is_open
        allow = Allowlist(tmp_path / "fobs.json")
        address, _name = await pair_new_fob(allow, await _central(link, GW), scan_timeout=3)
        assert address == FOB
        await wait_for(lambda: "pairing_bonded" in fw.patterns, timeout=5)
        assert not fw.fob.pairing.is_open and fw.fob.pairing.bonds == 1
        keys = await fw.ble.device.keystore.get_all()
        assert len(keys) == 1 and keys[0][1].ltk is not None
        # The first bond closed the window: a second gateway is refused.
        with pytest.raises(PairingError):
            await pair_new_fob(
                Allowlist(tmp_path / "other.json"),
                await _central(link, OTHER_GW),
                address=FOB,
                scan_timeout=3,
            )
        assert fw.fob.pairing.refused == 1
        assert len(await fw.ble.device.keystore.get_all()) == 1
        await fw.stop()

    asyncio.run(main())


def test_a_bonded_gateway_reconnects_later_without_the_window_and_the_sos_is_acked(
    monitor: ContractMonitor, tmp_path: Path
) -> None:
    async def main() -> None:
        link, fw = await _firmware_fob(tmp_path)
        await fw.five_taps()
        allow = Allowlist(tmp_path / "fobs.json")
        stack = await _central(link, GW)
        await pair_new_fob(allow, stack, scan_timeout=3)
        await wait_for(lambda: not fw.fob.pairing.is_open, timeout=5)

        async def body(relay: Relay) -> None:
            await wait_for(lambda: fw.ble.ready, timeout=10)  # on the bond, window shut
            await fw.ble.out_of_range()
            await wait_for(lambda: relay.counters["link_down"] == 1, timeout=5)
            await fw.hold_sos()  # the worker's SOS waits in the outbox
            await asyncio.sleep(0.3)
            assert fw.fob.outbox.depth() >= 1
            await fw.ble.back_in_range()
            await wait_for(lambda: fw.ble.ready, timeout=10)  # no taps, no re-pair
            await wait_for(lambda: monitor.accepted, timeout=5)
            assert monitor.accepted[0]["link"] == "ble"
            await wait_for(
                lambda: any(f[0] & 0x1F == frame_types.ACK for f in fw.ble.downlinks), timeout=5
            )
            await wait_for(lambda: fw.fob.outbox.depth() == 0, timeout=5)  # acked: off flash
            assert fw.fob.pairing.refused == 0 and fw.fob.pairing.opened == 1

        await _relay(monitor, tmp_path, stack, allow, body)
        await fw.stop()

    asyncio.run(main())


def test_a_stranger_that_never_pairs_is_dropped_and_the_bonded_gateway_gets_the_link(
    monitor: ContractMonitor, tmp_path: Path
) -> None:
    async def main() -> None:
        link, fw = await _firmware_fob(tmp_path)
        await fw.five_taps()
        allow = Allowlist(tmp_path / "fobs.json")
        stack = await _central(link, GW)
        await pair_new_fob(allow, stack, scan_timeout=3)
        await wait_for(lambda: fw.ble.connection is None, timeout=5)  # `pair` disconnected
        # A stranger takes the fob's one connection and sits on it without pairing.
        stranger = await _connect_without_pairing(await _central(link, STRANGER))
        taken = time.monotonic()
        assert fw.ble.connection is not None and not fw.ble.ready

        async def body(relay: Relay) -> None:
            await wait_for(lambda: fw.ble.strangers_dropped == 1, timeout=STRANGER_MS / 1000 + 5)
            held = time.monotonic() - taken
            assert STRANGER_MS / 1000 - 1 <= held <= STRANGER_MS / 1000 + 2
            assert fw.fob.pairing.dropped == 1
            await wait_for(lambda: fw.ble.ready, timeout=15)  # the bonded gateway is in
            # The fob's side is ready first; the gateway counts the link once its own
            # subscription completes, a moment later on a loaded machine.
            await wait_for(lambda: relay.counters["link_up"] == 1, timeout=5)
            await fw.hold_sos()
            await wait_for(lambda: monitor.accepted, timeout=5)

        await _relay(monitor, tmp_path, stack, allow, body)
        assert not stranger.is_connected  # type: ignore[attr-defined]
        await fw.stop()

    asyncio.run(main())
