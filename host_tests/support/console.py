"""What the console's browser tests share: a monitor under uvicorn with chosen settings, an
alarm raised through the gateway API, and a tile server for the map."""

from __future__ import annotations

import contextlib
import shutil
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from devstack.localstack import uvicorn_in_thread
from host_tests.support.monitor import LiveServer, gateway_client, heartbeat, make_settings, sos
from monitor.api.main import create_app
from monitor.models import Alarm
from monitor.seed import Seeded

LONDON = {"lat": 51.5072, "lon": -0.1276, "accuracy_m": 40.0}


@contextlib.contextmanager
def monitor_with(
    tmp_path: Path, template: tuple[Path, Seeded], **settings: Any
) -> Iterator[LiveServer]:
    """The seeded monitor under a real uvicorn, with `settings` (e.g. map_tile_url) changed."""
    shutil.copy(template[0], tmp_path / "vigil.db")
    app = create_app(make_settings(f"sqlite:///{tmp_path}/vigil.db", **settings))
    with uvicorn_in_thread(app) as url:
        yield LiveServer(app, url)
    app.state.db.engine.dispose()


def raise_sos(server: LiveServer, location: dict[str, float] | None = LONDON) -> int:
    """An SOS from the seeded fob (Sam Rivera's), through the gateway API; returns its id."""
    with gateway_client(server.url) as gw:
        items = [heartbeat(1), sos(2, age_s=3, location=location)]
        gw.post("/v1/frames", json={"frames": items}).raise_for_status()
    with server.app.state.db.session() as s:
        alarm_id = s.scalars(select(Alarm.id).order_by(Alarm.id.desc())).first()
    assert alarm_id is not None
    return int(alarm_id)


def png(width: int, height: int, rgb: tuple[int, int, int] = (40, 160, 90)) -> bytes:
    """A valid, solid-colour PNG, written by hand so no imaging library is needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@dataclass
class TileServer:
    url: str
    paths: list[str] = field(default_factory=list)


@contextlib.contextmanager
def tile_server() -> Iterator[TileServer]:
    """A tiny real HTTP tile server on loopback: any /z/x/y.png is a 256 px green square."""
    tile = png(256, 256)
    seen: list[str] = []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args: Any) -> None:
            pass  # the test reads `paths`, not stderr

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield TileServer(f"http://127.0.0.1:{httpd.server_address[1]}", seen)
    finally:
        httpd.shutdown()
        httpd.server_close()
