"""The relay's two lanes: an alarm goes out on its own request while a heartbeat batch is still
in flight, and a monitor without packed ingest still gets every frame, as JSON.

The monitor is faked here by an httpx transport (httpx.MockTransport): it holds a heartbeat
batch unanswered for as long as the test says, which a real monitor cannot be made to do at a
chosen moment. Everything else (queue, relay, client, packing) is the real code; the real
monitor's side is covered by host_tests/monitor/routes/test_frames_binary.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx

from gateway.monitor_client import MonitorClient
from gateway.queue import FrameQueue
from gateway.relay import Relay
from host_tests.support.gateway import ConnectedLink
from protocol import frame_types as ft
from protocol import frames
from protocol import relay_batch as rb

KEY = bytes(range(16))


def _heartbeat(device: int, counter: int) -> bytes:
    return frames.encode(ft.HEARTBEAT, device, counter, (90, 0, 0, 1), KEY)


async def _until(condition: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.005)


def test_an_alarm_is_posted_and_answered_while_a_heartbeat_batch_is_unanswered() -> None:
    async def main() -> None:
        release = asyncio.Event()
        posted: list[tuple[str, int]] = []

        async def monitor(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/v1/frames/binary":
                _base, records, _loc = rb.decode_request(request.content, 1000)
                bulk = all(r[0][0] & 0x1F == ft.HEARTBEAT for r in records)
                posted.append(("bulk" if bulk else "urgent", len(records)))
                if bulk:
                    await release.wait()
                reply = rb.encode_reply([("accepted", None, None)] * len(records))
                return httpx.Response(200, content=reply)
            if request.url.path == "/v1/downlink":
                await asyncio.sleep(3600)
            return httpx.Response(204)

        client = MonitorClient("http://monitor", "t", transport=httpx.MockTransport(monitor))
        queue = FrameQueue(":memory:")
        relay = Relay(queue, client)
        link = ConnectedLink()
        for c in range(1, 301):
            relay.frame_received(_heartbeat(1 + c % 30, c), link, -70)
        run = asyncio.create_task(relay.run())
        try:
            await _until(lambda: posted)
            assert posted == [("bulk", 300)]
            sos = frames.encode(ft.SOS, 99, 1, (80, 0, 0), KEY)
            relay.frame_received(sos, link, -60)
            # Answered and gone from the queue while the heartbeats are still unanswered.
            await _until(lambda: queue.depth() == 300)
            assert posted == [("bulk", 300), ("urgent", 1)]
            assert sos not in [q.frame for q in queue.batch(1000)]
            release.set()
            await _until(lambda: queue.depth() == 0)
            assert relay.counters["result.accepted"] == 301
        finally:
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
            await client.aclose()
            queue.close()

    asyncio.run(main())


def test_a_monitor_without_packed_ingest_gets_the_frames_as_json() -> None:
    async def main() -> None:
        paths: list[str] = []

        async def old_monitor(request: httpx.Request) -> httpx.Response:
            paths.append(request.url.path)
            if request.url.path == "/v1/frames":
                items = json.loads(request.content)["frames"]
                results = [{"status": "accepted", "ack": None} for _ in items]
                return httpx.Response(200, json={"results": results})
            return httpx.Response(404, json={"detail": "Not Found"})

        client = MonitorClient("http://monitor", "t", transport=httpx.MockTransport(old_monitor))
        items = [
            {"frame": _heartbeat(5, 1).hex(), "received_at": "2026-12-04T10:00:00.000Z"},
            {"frame": _heartbeat(5, 2).hex(), "received_at": "2026-12-04T10:00:01.000Z"},
        ]
        got = await client.post_frames(items)
        assert [r.status for r in got] == ["accepted", "accepted"]
        await client.post_frames(items[:1])
        # Tried packed once, then JSON from then on.
        assert paths == ["/v1/frames/binary", "/v1/frames", "/v1/frames"]
        await client.aclose()

    asyncio.run(main())
