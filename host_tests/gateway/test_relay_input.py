"""Whatever bytes a fob or the air delivers, the relay neither raises nor queues junk."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.monitor_client import MonitorClient
from gateway.queue import FrameQueue
from gateway.relay import Relay
from host_tests.support.gateway import ConnectedLink
from protocol import frame_types, frames

_CLIENT = MonitorClient("http://127.0.0.1:9", "unused")


@settings(max_examples=300, deadline=None)
@given(junk=st.lists(st.binary(max_size=64), max_size=8))
def test_arbitrary_notifications_never_raise_and_only_uplink_frames_are_queued(
    junk: list[bytes],
) -> None:
    async def main() -> None:
        queue = FrameQueue(":memory:")  # the file-backed queue has its own tests
        relay = Relay(queue, _CLIENT)  # never called: frame_received only queues
        good = frames.encode(frame_types.SOS, 5, 1, (1, 0, 0), bytes(32))
        link = ConnectedLink()
        for data in junk:
            relay.frame_received(data, link, -70)
        relay.frame_received(good, link, -70)
        queued = [q.frame for q in queue.batch(100)]
        assert good in queued
        for raw in queued:
            ftype, _dev, _ctr = frames.peek(raw)
            assert frame_types.direction(ftype) == frame_types.UPLINK
        bad = sum(v for k, v in relay.counters.items() if k.startswith("bad_frame."))
        assert relay.counters["frames_in"] + bad == len(junk) + 1
        queue.close()

    asyncio.run(main())
