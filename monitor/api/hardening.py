"""HTTP-level guards that hold for every route: a request body cap and browser security headers.

Plain ASGI middleware (not BaseHTTPMiddleware) so the live alarm stream is passed through
untouched.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.errors import PayloadTooLarge

# The largest legitimate body is a full gateway batch: 1,000 frames of about 250 bytes of JSON
# each (hex frame, timestamp, link, rssi, location) is ~0.25 MiB. FastAPI reads and parses a
# body before any dependency checks the caller, so without a cap an anonymous client could make
# the monitor buffer and parse gigabytes.
MAX_BODY_BYTES = 1024 * 1024

SECURITY_HEADERS = (
    # The console has buttons that acknowledge and resolve alarms: never inside another site's
    # frame, where a click could be stolen.
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
# Pages and API answers carry workers' names, phones, risk notes and locations: keep them out
# of shared browser caches. Static assets may be cached.
NO_STORE = (b"cache-control", b"no-store")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0
        over = refused = False

        async def refuse_once() -> None:
            nonlocal refused
            if not refused:
                refused = True
                await self._refuse(send)

        async def counted_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # chunked upload without a Content-Length
                    over = True
                    raise self._too_large()
            return message

        async def guarded_send(message: Message) -> None:
            # FastAPI turns a failed body read into its own 400: answer 413 in its place.
            if not over:
                await send(message)
            elif message["type"] == "http.response.start":
                await refuse_once()

        try:
            await self.app(scope, counted_receive, guarded_send)
        except PayloadTooLarge:
            await refuse_once()

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"request body over {self.max_bytes} bytes; "
            "gateways send at most 1000 frames per batch",
            max_bytes=self.max_bytes,
        )

    async def _refuse(self, send: Send) -> None:
        e = self._too_large()
        body = json.dumps({"error": e.code, "message": e.message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = SECURITY_HEADERS if static else (*SECURITY_HEADERS, NO_STORE)
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
