"""What the relay needs from a link to fobs, whatever the radio or wire underneath.

A `Transport` owns one way of reaching fobs (a serial port, the BLE adapter) and keeps it up on
its own: it reconnects after unplugs and range loss. Each connected fob is a `FobLink` the relay
can write signed downlink frames to. Transports are chosen by configuration and injected, the
way bleak takes `backend=`.
"""

from __future__ import annotations

import abc
from typing import Protocol


class FobLink(abc.ABC):
    """One connected fob (or one serial port, which carries one fob)."""

    kind: str  # "serial" | "ble", as the monitor API spells it
    port: str  # device path or BLE address: what an installer can find on the box

    def __init__(self, kind: str, port: str) -> None:
        self.kind = kind
        self.port = port
        self.device_id: int | None = None  # learned once the monitor vouches for a frame from it

    @property
    @abc.abstractmethod
    def connected(self) -> bool: ...

    @abc.abstractmethod
    async def send(self, frame: bytes) -> None:
        """Write one signed downlink frame. Raises TransportError if the link is gone."""

    def status(self) -> dict[str, object]:
        return {
            "device_id": self.device_id,
            "link": self.kind,
            "port": self.port,
            "connected": self.connected,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} {self.port} dev={self.device_id}>"


class FrameSink(Protocol):
    """The relay, as transports see it. Called on the event loop; must not block."""

    def frame_received(self, data: bytes, link: FobLink, rssi: int | None = None) -> None: ...

    def link_up(self, link: FobLink) -> None: ...

    def link_down(self, link: FobLink) -> None: ...


class Transport(abc.ABC):
    @abc.abstractmethod
    async def run(self, sink: FrameSink) -> None:
        """Keep links up and feed received frames to `sink` until cancelled."""

    @abc.abstractmethod
    def links(self) -> list[FobLink]:
        """Every link this transport knows, connected or not (for the health report)."""
