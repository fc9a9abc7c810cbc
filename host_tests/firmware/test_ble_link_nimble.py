"""The real firmware/ble_link.py on real MicroPython with NimBLE (the ESP32 port's BLE host
stack), against the gateway's pairing code on bumble centrals, over a LocalLink:

- outside the pairing window an unknown central's pairing is cut off before it completes (so
  the central does not believe it bonded), counted, and no bond is stored;
- inside it the gateway bonds, the window closes with `pairing_bonded`;
- the bonded gateway reconnects later, window shut, and the link comes up on the bond;
- a stranger that connects and never pairs is dropped after STRANGER_MS.

No mock: the unix port (devstack/mpy/nimble.py) runs aioble and NimBLE; its HCI UART is a pty
served by a bumble controller."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from bumble.controller import Controller
from bumble.hci import Address
from bumble.link import LocalLink
from bumble.transport import open_transport

from devstack.mpy import nimble
from firmware.pairing import STRANGER_MS
from gateway import ble_profile
from gateway.ble_stack import BleStack
from gateway.bumble_backend import central_on_link
from gateway.errors import PairingError
from gateway.pairing import Allowlist, pair_new_fob

pytestmark = pytest.mark.micropython  # the unix port with NimBLE

FOB = "F0:00:00:00:03:01"
GW, STRANGER = "F1:00:00:00:03:01", "F1:00:00:00:03:02"


@pytest.fixture(scope="module")
def micropython() -> Path:
    try:
        return nimble.unix_nimble()
    except nimble.Unavailable as e:
        pytest.skip(str(e))


class NimbleFob:
    """devstack/mpy/nimble_fob.py in the unix port; `state` is its latest status line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.state: dict[str, int] = {}
        self.feedback: list[str] = []
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := (await self.proc.stdout.readline()).decode():
            if line.startswith("status"):
                self.state = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
            elif line.startswith("feedback"):
                self.feedback.append(line.split()[1])

    async def command(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def until(self, pred: Callable[[dict[str, int]], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not (self.state and pred(self.state)):
            if time.monotonic() > deadline:
                raise AssertionError(f"fob state {self.state}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            await self.command("quit")
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def _start(micropython: Path, tmp: Path) -> tuple[LocalLink, NimbleFob, object]:
    link = LocalLink()
    pty_link = tmp / "hci"
    transport = await open_transport(f"pty:{pty_link}")
    controller = Controller(
        "nimble-fob", host_source=transport.source, host_sink=transport.sink, link=link
    )
    controller.random_address = Address(FOB)  # LocalLink routes LE data by random address
    proc = await asyncio.create_subprocess_exec(
        str(micropython),
        str(nimble.SCRIPT),
        str(nimble.ROOT),
        str(nimble.AIOBLE),
        str(tmp / "ble_secrets.json"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "MICROPYBTUART": str(pty_link)},
    )
    fob = NimbleFob(proc)
    await fob.until(lambda s: True, 30)
    return link, fob, transport


async def _central(link: LocalLink, address: str) -> BleStack:
    device = central_on_link(link, address)
    device.random_address = Address(address)
    await device.power_on()
    return BleStack.bumble(device)


async def _connect(stack: BleStack, pair: bool) -> object:
    found: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    scanner = stack.scanner(
        lambda d, a: found.done() or found.set_result(d), [ble_profile.SERVICE_UUID]
    )
    await scanner.start()
    device = await asyncio.wait_for(found, 10)
    await scanner.stop()
    client = stack.client(device, pair=pair, timeout=10)  # type: ignore[arg-type]
    await client.connect()
    return client


def _peer_keys(tmp: Path) -> list[list[object]]:
    # aioble's secrets file: [sec_type, key, value] rows; 1 and 2 are a peer's bond (10 our IRK)
    path = tmp / "ble_secrets.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    return [r for r in rows if r[0] in (1, 2)]


def test_nimble_refuses_a_bond_outside_the_window_bonds_inside_and_reconnects_on_it(
    micropython: Path, tmp_path: Path
) -> None:
    async def main() -> None:
        link, fob, transport = await _start(micropython, tmp_path)
        try:
            stack = await _central(link, GW)
            allow = Allowlist(tmp_path / "fobs.json")
            with pytest.raises(PairingError, match="disconnected"):
                await pair_new_fob(allow, stack, scan_timeout=10)
            await fob.until(lambda s: s["refused"] == 1 and not s["connected"], 5)
            assert dict(allow.fobs()) == {}
            assert _peer_keys(tmp_path) == []  # NimBLE stored no bond

            await fob.command("open")
            await fob.until(lambda s: s["open"] == 1, 5)
            address, _ = await pair_new_fob(allow, stack, scan_timeout=10)
            await fob.until(lambda s: s["bonds"] == 1 and s["open"] == 0, 5)
            assert address in allow  # NimBLE picks its own static random address
            await asyncio.sleep(0.5)  # aioble saves secrets from micropython.schedule
            assert len(_peer_keys(tmp_path)) == 2  # our keys and the gateway's, for one peer
            assert fob.feedback == ["pairing_open", "pairing_bonded"]

            client = await _connect(stack, pair=True)  # encrypts on the stored bond
            await fob.until(lambda s: s["up"] == 1, 5)
            assert fob.state["refused"] == 1 and fob.state["open"] == 0
            await client.disconnect()  # type: ignore[attr-defined]
        finally:
            await fob.stop()
            await transport.close()  # type: ignore[attr-defined]

    asyncio.run(main())


def test_nimble_drops_a_stranger_that_never_pairs(micropython: Path, tmp_path: Path) -> None:
    async def main() -> None:
        link, fob, transport = await _start(micropython, tmp_path)
        try:
            stranger = await _connect(await _central(link, STRANGER), pair=False)
            t0 = time.monotonic()
            await fob.until(lambda s: s["connected"] == 1, 5)
            await fob.until(lambda s: s["dropped"] == 1, STRANGER_MS / 1000 + 5)
            held = time.monotonic() - t0
            assert STRANGER_MS / 1000 - 1 <= held <= STRANGER_MS / 1000 + 2
            assert fob.state["up"] == 0
            await fob.until(lambda s: s["connected"] == 0, 5)
            assert not stranger.is_connected  # type: ignore[attr-defined]
        finally:
            await fob.stop()
            await transport.close()  # type: ignore[attr-defined]

    asyncio.run(main())
