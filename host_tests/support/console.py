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

import httpx
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
            # Leaflet cancels tiles it no longer needs (zooming, leaving the page): not an error.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
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


@dataclass
class Populated:
    open_alarm: int
    resolved_alarm: int
    incident: int


def populate(server: LiveServer, admin_password: str) -> Populated:
    """Data on every page: an open SOS, a resolved one filed as an incident (through the API)."""
    from monitor.services import incidents

    resolved = raise_sos(server)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        r = http.post("/v1/auth/login", json={"username": "admin", "password": admin_password})
        r.raise_for_status()
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        http.post(f"/v1/alarms/{resolved}/acknowledge", headers=csrf).raise_for_status()
        body = {"outcome": "worker_safe", "notes": "Called back: safe, leaving the property."}
        http.post(f"/v1/alarms/{resolved}/resolve", headers=csrf, json=body).raise_for_status()
        inc = {
            "type": incidents.TYPES[0],
            "alarm_id": resolved,
            "summary": "Raised voice at a visit",
        }
        r = http.post("/v1/incidents", headers=csrf, json=inc)
        r.raise_for_status()
        incident = int(r.json()["id"])
    with gateway_client(server.url) as gw:
        gw.post(
            "/v1/frames", json={"frames": [sos(10, age_s=1, location=LONDON)]}
        ).raise_for_status()
    with server.app.state.db.session() as s:
        open_alarm = s.scalars(select(Alarm.id).where(Alarm.status == "open")).first()
    assert open_alarm is not None
    return Populated(int(open_alarm), resolved, incident)
