"""Which Bluetooth stack bleak runs on: the OS's (default) or an injected backend such as bumble.

bleak takes `backend=` on both the scanner and the client; this bundles the pair with the
keyword arguments they need so the transport and `vigil gateway pair` never care which it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementDataCallback, BaseBleakScanner


@dataclass(frozen=True)
class BleStack:
    scanner_backend: type[BaseBleakScanner] | None = None
    client_backend: type[BaseBleakClient] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def bumble(cls, device: Any) -> BleStack:
        from gateway.bumble_backend import BumbleClient, BumbleScanner

        return cls(BumbleScanner, BumbleClient, {"bumble_device": device})

    def scanner(
        self, callback: AdvertisementDataCallback | None, service_uuids: list[str]
    ) -> BleakScanner:
        return BleakScanner(callback, service_uuids, backend=self.scanner_backend, **self.kwargs)

    def client(
        self,
        device: BLEDevice,
        *,
        disconnected: Callable[[BleakClient], None] | None = None,
        pair: bool = True,
        timeout: float,
    ) -> BleakClient:
        return BleakClient(
            device,
            disconnected,
            pair=pair,
            timeout=timeout,
            backend=self.client_backend,
            **self.kwargs,
        )
