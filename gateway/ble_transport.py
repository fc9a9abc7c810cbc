"""Fobs over Bluetooth LE with bleak.

One scanner runs all the time looking for the Vigil service. A fob on the allowlist that is
seen advertising gets a connection task: connect, encrypt with the bond (LE Secure
Connections), exchange MTU, subscribe to its frame characteristic, then wait until the link
drops. A fob that fails is retried after a backoff chosen by what went wrong, in the manner of
bleak-retry-connector; every step has a timeout so one sick fob never stalls the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass

from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from gateway import ble_profile
from gateway.ble_stack import BleStack
from gateway.errors import TransportError
from gateway.pairing import Allowlist, is_vigil
from gateway.transport import FobLink, FrameSink, Transport

log = logging.getLogger("vigil.gateway.ble")

CONNECT_TIMEOUT_S = 10.0  # bleak's own connect timeout; BlueZ needs several seconds at worst
SETUP_TIMEOUT_S = 20.0  # connect + encrypt + MTU + discovery + subscribe, overall safety net
WRITE_TIMEOUT_S = 2.0  # one downlink write with response; the relay also bounds it
# Backoff by failure class, doubled per consecutive failure up to RETRY_CAP_S.
RETRY_TIMEOUT_S = 0.25  # connect timed out: out of range or busy; try again soon
RETRY_BLEAK_S = 1.0  # the stack refused (adapter busy, GATT error)
RETRY_PAIRING_S = 10.0  # bond lost or refused: needs a person to re-pair, do not hammer
RETRY_CAP_S = 30.0


@dataclass
class _Retry:
    failures: int = 0
    not_before: float = 0.0


class BleLink(FobLink):
    def __init__(self, address: str, name: str | None) -> None:
        super().__init__("ble", address)
        self.name = name
        self.client: BleakClient | None = None
        self.rssi: int | None = None

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.is_connected

    async def send(self, frame: bytes) -> None:
        client = self.client
        if client is None:
            raise TransportError(self.port, "not connected")
        try:
            await asyncio.wait_for(
                client.write_gatt_char(ble_profile.DOWNLINK_UUID, frame, response=True),
                WRITE_TIMEOUT_S,
            )
        except (BleakError, TimeoutError) as e:
            raise TransportError(self.port, f"write failed: {e}") from e


def retry_delay(error: BaseException, failures: int) -> float:
    if isinstance(error, TimeoutError):
        base = RETRY_TIMEOUT_S
    elif "pair" in str(error).lower() or "encrypt" in str(error).lower():
        base = RETRY_PAIRING_S
    else:
        base = RETRY_BLEAK_S
    return float(min(RETRY_CAP_S, base * 2 ** max(0, failures - 1)))


class BleTransport(Transport):
    def __init__(self, allowlist: Allowlist, stack: BleStack | None = None) -> None:
        self.allowlist = allowlist
        self.stack = stack or BleStack()
        self._links: dict[str, BleLink] = {}
        self._busy: set[str] = set()
        self._retry: dict[str, _Retry] = {}
        self._ignored: set[str] = set()
        self._setup_lock = asyncio.Lock()
        self.counters: Counter[str] = Counter()

    def links(self) -> list[FobLink]:
        return list(self._links.values())

    async def run(self, sink: FrameSink) -> None:
        async with asyncio.TaskGroup() as tg:

            def seen(device: BLEDevice, adv: AdvertisementData) -> None:
                if not is_vigil(adv):
                    return
                address = device.address.upper()
                if address not in self.allowlist:
                    if address not in self._ignored:
                        self._ignored.add(address)
                        self.counters["unpaired_fob_ignored"] += 1
                        log.info("ignoring unpaired fob %s (%s)", address, adv.local_name)
                    return
                retry = self._retry.get(address)
                if address in self._busy or (retry and time.monotonic() < retry.not_before):
                    return
                self._busy.add(address)
                link = self._links.setdefault(address, BleLink(address, adv.local_name))
                link.rssi = adv.rssi
                tg.create_task(self._serve(device, link, sink))

            scanner = self.stack.scanner(seen, [ble_profile.SERVICE_UUID])
            await scanner.start()
            try:
                await asyncio.Event().wait()
            finally:
                await scanner.stop()

    async def _serve(self, device: BLEDevice, link: BleLink, sink: FrameSink) -> None:
        gone = asyncio.Event()
        retry = self._retry.setdefault(link.port, _Retry())
        client = self.stack.client(
            device, disconnected=lambda _c: gone.set(), pair=True, timeout=CONNECT_TIMEOUT_S
        )
        try:
            # One connection set-up at a time: controllers (and BlueZ) refuse a second LE
            # create-connection while one is pending. Set-ups take milliseconds; links stay
            # concurrent once up.
            async with self._setup_lock, asyncio.timeout(SETUP_TIMEOUT_S):
                await client.connect()
                await client.start_notify(
                    ble_profile.FRAME_UUID,
                    lambda _ch, data: sink.frame_received(bytes(data), link, link.rssi),
                )
        except (BleakError, TimeoutError) as e:
            retry.failures += 1
            delay = retry_delay(e, retry.failures)
            retry.not_before = time.monotonic() + delay
            self.counters[f"connect_failed.{type(e).__name__}"] += 1
            log.warning("BLE %s: %s; retry in %.1f s", link.port, e, delay)
            with contextlib.suppress(BleakError, TimeoutError, OSError):
                await client.disconnect()  # a half-open link would block the next attempt
            self._busy.discard(link.port)
            return
        retry.failures = 0
        link.client = client
        log.info("BLE %s connected, MTU %d", link.port, client.mtu_size)
        sink.link_up(link)
        try:
            await gone.wait()
        finally:
            link.client = None
            self._busy.discard(link.port)
            sink.link_down(link)
            if not gone.is_set():  # cancelled (shutdown): leave the fob free to reconnect
                await asyncio.shield(client.disconnect())
