"""The monitor's gateway API (`/v1/frames/binary`, `/v1/downlink`, `/v1/gateways/health`) over
httpx.

One keep-alive client: an alarm must not pay a TCP (or TLS) handshake, and requests in flight at
once (an alarm beside a heartbeat batch) each get their own connection from its pool. Frames go
packed (protocol/relay_batch.py); a monitor too old for that gets JSON (`/v1/frames`). Every
failure is turned into a `MonitorLinkError` subclass that carries the backoff for its kind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from gateway.errors import MonitorLinkError, MonitorOverloaded, MonitorRefused, MonitorUnreachable
from protocol import frames, relay_batch
from protocol.errors import ProtocolError

log = logging.getLogger("vigil.gateway.monitor")

# Timeouts: an ingest round trip is milliseconds on a LAN; 5 s means the monitor is in trouble
# and the frames are safer retried than waited on.
CONNECT_TIMEOUT_S = 3.0
INGEST_TIMEOUT_S = 5.0
# The long poll waits up to DOWNLINK_WAIT_S at the monitor; give the answer headroom to travel.
DOWNLINK_WAIT_S = 25
DOWNLINK_TIMEOUT_S = DOWNLINK_WAIT_S + 10.0
HEALTH_TIMEOUT_S = 5.0
# Backoff by the kind of failure.
UNREACHABLE_RETRY_S = 0.5  # first retry; the relay doubles it up to its cap
OVERLOADED_RETRY_S = 2.0  # the monitor is up but struggling: give it room
MAX_RETRY_AFTER_S = 60.0  # a Retry-After longer than this is not believed
REFUSED_RETRY_S = 30.0  # a bad token will not fix itself quickly; keep the frames, shout in the log

RESULT_STATUSES = ("accepted", "duplicate", "rejected")
PACKED = {"Content-Type": "application/octet-stream"}
# A monitor without the packed endpoint answers these: it is older, not refusing the frames.
NO_PACKED_ENDPOINT = (404, 405, 415)


@dataclass(frozen=True)
class IngestResult:
    status: str
    reason: str | None
    device_id: int | None
    counter: int | None
    ack: bytes | None


@dataclass(frozen=True)
class DownlinkItem:
    id: int
    device_id: int
    frame: bytes
    age_s: int = 0  # how long the monitor has held it (older monitors do not say: 0)


class MonitorClient:
    def __init__(
        self, base_url: str, token: str, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(INGEST_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            limits=httpx.Limits(max_keepalive_connections=4, keepalive_expiry=60.0),
            transport=transport,
        )
        self._packed = True

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post_frames(self, items: Sequence[dict[str, object]]) -> list[IngestResult]:
        """Items as `QueuedFrame.as_wire` gives them; one result per item, in order."""
        if self._packed:
            try:
                return await self._post_packed(items)
            except MonitorRefused as e:
                if e.status not in NO_PACKED_ENDPOINT:
                    raise
                log.warning("the monitor has no packed ingest (%s): sending JSON", e.status)
                self._packed = False
        return await self._post_json(items)

    async def _post_packed(self, items: Sequence[dict[str, object]]) -> list[IngestResult]:
        base_ms = int(time.time() * 1000)
        packed = [_packed_item(i, base_ms) for i in items]
        reply = await self._request(
            "POST",
            "/v1/frames/binary",
            content=relay_batch.encode_request(packed, base_ms),
            headers=PACKED,
            timeout=INGEST_TIMEOUT_S,
            raw=True,
        )
        try:
            answers = relay_batch.decode_reply(reply or b"", len(items))
        except relay_batch.BadBatch as e:
            # Not an answer for these frames: keep them queued and resend rather than guess.
            raise MonitorOverloaded(f"ingest answer: {e}", retry_after=OVERLOADED_RETRY_S) from e
        out = []
        for (status, reason, ack), (frame, *_rest) in zip(answers, packed, strict=True):
            _type, device_id, counter = frames.peek(frame)
            out.append(IngestResult(status, reason, device_id, counter, ack))
        return out

    async def _post_json(self, items: Sequence[dict[str, object]]) -> list[IngestResult]:
        body = await self._request(
            "POST", "/v1/frames", json={"frames": list(items)}, timeout=INGEST_TIMEOUT_S
        )
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or len(results) != len(items):
            raise MonitorOverloaded(
                "ingest answered without one result per frame", retry_after=OVERLOADED_RETRY_S
            )
        return [_result(r) for r in results]

    async def downlink(
        self, after: int, wait: int = DOWNLINK_WAIT_S
    ) -> tuple[list[DownlinkItem], int]:
        body = await self._request(
            "GET", "/v1/downlink", params={"after": after, "wait": wait}, timeout=DOWNLINK_TIMEOUT_S
        )
        try:
            items = [
                DownlinkItem(
                    int(i["id"]),
                    int(i["device_id"]),
                    bytes.fromhex(str(i["frame"])),
                    max(0, int(i.get("age_s", 0))),
                )
                for i in body["items"]
            ]
            return items, int(body["cursor"])
        except (KeyError, TypeError, ValueError) as e:
            raise MonitorOverloaded(
                f"downlink answer is malformed: {e}", retry_after=OVERLOADED_RETRY_S
            ) from e

    async def health(self, links: list[dict[str, object]], queue_depth: int, version: str) -> None:
        await self._request(
            "POST",
            "/v1/gateways/health",
            json={"links": links, "queue_depth": queue_depth, "version": version},
            timeout=HEALTH_TIMEOUT_S,
        )

    async def _request(
        self, method: str, url: str, *, timeout: float, raw: bool = False, **kw: Any
    ) -> Any:
        try:
            resp = await self._http.request(method, url, timeout=timeout, **kw)
        except httpx.TransportError as e:
            raise MonitorUnreachable(
                f"{method} {url}: {type(e).__name__}: {e}", retry_after=UNREACHABLE_RETRY_S
            ) from e
        if resp.status_code in (401, 403):
            raise MonitorRefused(
                f"{method} {url}: the monitor refused the gateway token ({resp.status_code})",
                status=resp.status_code,
                retry_after=REFUSED_RETRY_S,
            )
        if resp.status_code == 429 or resp.status_code >= 500:
            raise MonitorOverloaded(
                f"{method} {url}: HTTP {resp.status_code}", retry_after=_retry_after(resp)
            )
        if resp.status_code >= 400:
            raise MonitorRefused(
                f"{method} {url}: HTTP {resp.status_code}: {resp.text[:200]}",
                status=resp.status_code,
                retry_after=REFUSED_RETRY_S,
            )
        if resp.status_code == 204 or not resp.content:
            return None
        if raw:
            return resp.content
        try:
            return resp.json()
        except ValueError as e:
            raise MonitorOverloaded(
                f"{method} {url}: answer is not JSON", retry_after=OVERLOADED_RETRY_S
            ) from e


def _retry_after(resp: httpx.Response) -> float:
    """The monitor's Retry-After (its heartbeat cap says when), within reason; else ours."""
    try:
        told = float(resp.headers.get("Retry-After", ""))
    except ValueError:
        return OVERLOADED_RETRY_S
    return min(max(told, 0.1), MAX_RETRY_AFTER_S) if told == told else OVERLOADED_RETRY_S


def _packed_item(item: dict[str, object], base_ms: int) -> tuple[Any, ...]:
    frame = bytes.fromhex(str(item["frame"]))
    try:
        frames.peek(frame)  # queued frames were peeked on arrival: this only guards the zip
    except ProtocolError as e:
        raise MonitorRefused(
            f"a queued frame does not parse: {e}", status=0, retry_after=REFUSED_RETRY_S
        ) from e
    try:
        heard = datetime.fromisoformat(str(item["received_at"]).replace("Z", "+00:00"))
        age_ms: int | None = base_ms - int(heard.timestamp() * 1000)
    except (KeyError, ValueError, OverflowError):
        age_ms = None  # the monitor flags it and uses its own clock
    link = item.get("link")
    location = item.get("location")
    if isinstance(location, dict) and location.get("source") not in relay_batch.SOURCES:
        location = {k: v for k, v in location.items() if k != "source"}
    return (
        frame,
        age_ms,
        link if link in relay_batch.LINKS else None,  # a kind the format lacks: not said
        item.get("rssi"),
        location,
    )


def _result(raw: Any) -> IngestResult:
    if not isinstance(raw, dict) or raw.get("status") not in RESULT_STATUSES:
        # Not an answer for this frame: keep it queued and resend rather than guess.
        return IngestResult("unknown", None, None, None, None)
    ack = raw.get("ack")
    try:
        ack_bytes = bytes.fromhex(ack) if isinstance(ack, str) else None
    except ValueError:
        ack_bytes = None
    dev, ctr = raw.get("device_id"), raw.get("counter")
    return IngestResult(
        str(raw["status"]),
        raw.get("reason") if isinstance(raw.get("reason"), str) else None,
        dev if isinstance(dev, int) else None,
        ctr if isinstance(ctr, int) else None,
        ack_bytes,
    )


__all__ = ["MonitorClient", "IngestResult", "DownlinkItem", "MonitorLinkError"]
