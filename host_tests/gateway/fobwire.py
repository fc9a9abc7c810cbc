"""Protocol-level fob for tests: signs real frames with a device key and speaks serial framing."""

from __future__ import annotations

import asyncio
import time

from protocol import frame_types, frames, framing


class WireFob:
    def __init__(self, device_id: int, key: bytes, write: object) -> None:
        self.device_id = device_id
        self.key = key
        self._write = write
        self.counter = 0
        self.deframer = framing.Deframer()
        self.received: list[frames.Frame] = []

    def frame(self, ftype: int = frame_types.SOS, fields: tuple[int, ...] = (87, 0, 0)) -> bytes:
        self.counter += 1
        return frames.encode(ftype, self.device_id, self.counter, fields, self.key)

    def send(self, raw: bytes) -> None:
        self._write(framing.encode(raw))  # type: ignore[operator]

    def feed(self, data: bytes) -> None:
        for payload in self.deframer.feed(data):
            self.received.append(frames.decode(payload, self.key, expect=frame_types.DOWNLINK))


async def wait_for(pred: object, timeout: float = 5.0, poll: object = None) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if poll is not None:
            poll()  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)
