"""A tiny loopback TCP load balancer for the load benchmark: round-robin with failover.

Each new client connection goes to the next backend in turn; a backend that refuses the
connection is skipped (and retried after DEAD_RETRY_S), so clients reconnecting after an
instance dies land on a live one. Bytes are copied both ways untouched (HTTP keep-alive and
SSE streams work). It stands in for the organisation's reverse proxy (nginx, HAProxy: see
docs/deployment.md); it has no TLS and no health checks and is not for production.

Run: python -m bench.lbproxy --listen 8000 --backend 127.0.0.1:8001 --backend 127.0.0.1:8002
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time

CONNECT_TIMEOUT_S = 1.0  # loopback: a live backend accepts in microseconds
DEAD_RETRY_S = 2.0  # skip a refusing backend this long before trying it again
CHUNK = 65536


class Balancer:
    def __init__(self, backends: list[tuple[str, int]]) -> None:
        self.backends = backends
        self._turn = itertools.cycle(range(len(backends)))
        self._dead_until = [0.0] * len(backends)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for _ in range(len(self.backends) * 2):
            i = next(self._turn)
            if self._dead_until[i] > time.monotonic():
                continue
            host, port = self.backends[i]
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(host, port), CONNECT_TIMEOUT_S
                )
            except (OSError, TimeoutError):
                self._dead_until[i] = time.monotonic() + DEAD_RETRY_S
        return None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await self._open()
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(CHUNK):
            dst.write(data)
            await dst.drain()
    finally:
        # One side closing (or a killed backend resetting) closes the other: the client sees
        # the failure and retries through us, landing on a live backend.
        dst.close()


async def serve(listen: int, backends: list[tuple[str, int]]) -> None:
    balancer = Balancer(backends)
    server = await asyncio.start_server(balancer.handle, "127.0.0.1", listen, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--backend", action="append", required=True, help="host:port")
    args = parser.parse_args()
    backends = [(b.rsplit(":", 1)[0], int(b.rsplit(":", 1)[1])) for b in args.backend]
    asyncio.run(serve(args.listen, backends))


if __name__ == "__main__":
    main()
