"""A minimal monitor that implements the monitor<->gateway contract, served by real uvicorn.

It verifies every frame with the device's real key (protocol.frames.decode + a replay window)
and signs real acks, so gateway tests exercise the same bytes the real monitor would produce.
It exists so the gateway can be tested on its own; the end-to-end tests use the real monitor.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request, Response

from devstack.localstack import free_port
from protocol import frame_types, frames
from protocol.errors import ProtocolError
from protocol.replay import ReplayWindow

TOKEN = "gw-test-token"


class ContractMonitor:
    def __init__(self, keys: dict[int, bytes]) -> None:
        self.keys = keys
        self.windows: dict[int, ReplayWindow] = {}
        self.accepted: list[dict[str, Any]] = []  # every accepted frame with its wire metadata
        self.posts: list[int] = []  # batch sizes, in order
        self.health: list[dict[str, Any]] = []
        self.downlinks: list[dict[str, Any]] = []
        self.fail_next = 0  # answer this many ingest requests with 503
        self.unparsable: set[str] = set()  # frame hex that makes the whole request a 422
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._new_downlink: asyncio.Event | None = None
        self.app = self._build()

    def ack_for(self, device_id: int, ftype: int, counter: int) -> bytes:
        return frames.encode(
            ftype, device_id, 1_000_000 + counter, (counter,), self.keys[device_id]
        )

    def push_downlink(self, device_id: int, frame: bytes, age_s: int = 0) -> None:
        # age_s: how long the monitor says it has held the downlink already.
        self.downlinks.append(
            {
                "id": len(self.downlinks) + 1,
                "device_id": device_id,
                "frame": frame.hex(),
                "age_s": age_s,
            }
        )
        if self._new_downlink is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._new_downlink.set)

    def _build(self) -> FastAPI:
        app = FastAPI()
        self._loop: asyncio.AbstractEventLoop | None = None

        def auth(authorization: str | None) -> None:
            if authorization != f"Bearer {TOKEN}":
                raise HTTPException(401, "bad token")

        @app.post("/v1/frames")
        async def ingest(request: Request, authorization: str | None = Header(None)) -> Any:
            auth(authorization)
            if self.fail_next > 0:
                self.fail_next -= 1
                raise HTTPException(503, "down for the test")
            body = await request.json()
            if any(item.get("frame") in self.unparsable for item in body["frames"]):
                raise HTTPException(422, "cannot parse the request")
            self.posts.append(len(body["frames"]))
            return {"results": [self._ingest_one(item) for item in body["frames"]]}

        @app.get("/v1/downlink")
        async def downlink(
            after: int, wait: int = 25, authorization: str | None = Header(None)
        ) -> Any:
            auth(authorization)
            self._loop = asyncio.get_running_loop()
            if self._new_downlink is None:
                self._new_downlink = asyncio.Event()
            deadline = time.monotonic() + min(wait, 25)
            while True:
                items = [d for d in self.downlinks if d["id"] > after]
                if items or time.monotonic() >= deadline:
                    break
                self._new_downlink.clear()
                try:
                    await asyncio.wait_for(self._new_downlink.wait(), deadline - time.monotonic())
                except TimeoutError:
                    pass
            cursor = max([after] + [d["id"] for d in items])
            return {"items": items, "cursor": cursor}

        @app.post("/v1/gateways/health", status_code=204)
        async def health(request: Request, authorization: str | None = Header(None)) -> Response:
            auth(authorization)
            self.health.append(await request.json())
            return Response(status_code=204)

        return app

    def _ingest_one(self, item: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": "rejected",
            "reason": "malformed",
            "device_id": None,
            "counter": None,
            "ack": None,
        }
        try:
            raw = bytes.fromhex(item["frame"])
            ftype, dev, ctr = frames.peek(raw)
        except (ValueError, KeyError, ProtocolError) as e:
            out["reason"] = getattr(e, "reason", "malformed")
            return out
        out["device_id"], out["counter"] = dev, ctr
        if dev not in self.keys:
            out["reason"] = "unknown_device"
            return out
        try:
            f = frames.decode(raw, self.keys[dev], expect=frame_types.UPLINK)
        except ProtocolError as e:
            out["reason"] = e.reason
            return out
        window = self.windows.setdefault(dev, ReplayWindow())
        if any(a["frame"] == raw for a in self.accepted):
            out.update(status="duplicate", reason=None)
        else:
            try:
                window.accept(ctr)
            except ProtocolError as e:
                out["reason"] = e.reason
                return out
            self.accepted.append(
                {
                    "frame": raw,
                    "decoded": f.as_dict(),
                    **{k: item.get(k) for k in ("received_at", "link", "rssi", "location")},
                }
            )
            out.update(status="accepted", reason=None)
        out["ack"] = self.ack_for(dev, frame_types.ACK, ctr).hex()
        return out

    # -- lifecycle: a real uvicorn in a thread, stoppable and restartable on the same port -----

    def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._new_downlink = None
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("contract monitor did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
