"""Which fobs this gateway serves over BLE, and how a new one is paired.

The allowlist is a small JSON file of bonded fob addresses. The BLE transport connects only to
fobs on it: a stranger's fob (or a phone pretending to be one) advertising the Vigil service is
counted and ignored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from gateway import ble_profile
from gateway.ble_stack import BleStack
from gateway.errors import PairingError

log = logging.getLogger("vigil.gateway.pairing")

PAIR_SCAN_TIMEOUT_S = 20.0  # time to tap the fob five times (its window then lasts 60 s)
PAIR_CONNECT_TIMEOUT_S = 15.0  # connect + LE Secure Connections pairing + discovery


class Allowlist:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fobs: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                self._fobs = dict(json.loads(self.path.read_text())["fobs"])
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise PairingError(f"cannot read the paired-fob list {self.path}: {e}") from e

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and address.upper() in self._fobs

    def fobs(self) -> Mapping[str, dict[str, Any]]:
        return dict(self._fobs)

    def add(self, address: str, name: str | None) -> None:
        self._fobs[address.upper()] = {"name": name}
        self._save()

    def remove(self, address: str) -> bool:
        found = self._fobs.pop(address.upper(), None) is not None
        self._save()
        return found

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fobs": self._fobs}, indent=2))
        os.replace(tmp, self.path)  # never a half-written list after a crash


def is_vigil(adv: AdvertisementData) -> bool:
    return ble_profile.SERVICE_UUID in [u.lower() for u in adv.service_uuids]


async def pair_new_fob(
    allowlist: Allowlist,
    stack: BleStack | None = None,
    *,
    address: str | None = None,
    scan_timeout: float = PAIR_SCAN_TIMEOUT_S,
) -> tuple[str, str | None]:
    """Find a fob in pairing mode (or the one at `address`), bond with it, add it to the list."""
    stack = stack or BleStack()
    found: asyncio.Future[BLEDevice] = asyncio.get_running_loop().create_future()

    def seen(device: BLEDevice, adv: AdvertisementData) -> None:
        if found.done() or not is_vigil(adv):
            return
        if (address is None and device.address not in allowlist) or (
            address is not None and device.address.upper() == address.upper()
        ):
            found.set_result(device)

    scanner = stack.scanner(seen, [ble_profile.SERVICE_UUID])
    await scanner.start()
    try:
        device = await asyncio.wait_for(found, scan_timeout)
    except TimeoutError as e:
        raise PairingError(
            "no unpaired Vigil fob found: tap the fob's button five times quickly (five short "
            "buzzes: pairing open for 60 s), then retry"
        ) from e
    finally:
        await scanner.stop()
    client = stack.client(device, pair=True, timeout=PAIR_CONNECT_TIMEOUT_S)
    try:
        await client.connect()
        if client.services.get_service(ble_profile.SERVICE_UUID) is None:
            raise PairingError(f"{device.address} does not offer the Vigil service")
    except BleakError as e:
        raise PairingError(
            f"pairing with {device.address} failed ({e}); the fob refuses bonds unless its "
            "pairing window is open: tap it five times quickly and retry"
        ) from e
    finally:
        await client.disconnect()
    allowlist.add(device.address, device.name)
    log.info("paired %s (%s)", device.address, device.name)
    return device.address, device.name
