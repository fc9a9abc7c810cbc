"""Channel fixtures: a worker with one contact on the channel under test, and escalation steps."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devstack.smtp_sink import SmtpSink
from host_tests.support.monitor import Env
from monitor.channels.base import Notifier
from monitor.models import AuditEntry, Contact, Delivery
from monitor.services import escalation

LOCATION = {"lat": 51.49951, "lon": -0.12482, "accuracy_m": 12.0, "fix_age_s": 40}


def add_contact(env: Env, channel: str, address: str, name: str = "Team leader") -> None:
    with env.app.state.db.session() as s:
        s.add(
            Contact(
                worker_id=env.seeded.worker_id,
                position=0,
                name=name,
                channel=channel,
                address=address,
                delay_s=0,
            )
        )


def step(env: Env, notifier: Notifier, at: dt.datetime) -> int:
    with env.app.state.db.session() as s:
        escalation.schedule(s, now=at)
    return escalation.deliver_due(env.app.state.db, notifier, now=at)


def delivery(env: Env) -> Delivery:
    with env.app.state.db.session() as s:
        [d] = s.query(Delivery).all()
        s.expunge(d)
        return d


def attempts(env: Env) -> list[str]:
    """The delivery_attempt audit entries' details, in order."""
    with env.app.state.db.session() as s:
        rows = (
            s.query(AuditEntry)
            .filter(AuditEntry.action == "delivery_attempt")
            .order_by(AuditEntry.id)
            .all()
        )
        return [r.details or "" for r in rows]


def actions(env: Env) -> list[str]:
    with env.app.state.db.session() as s:
        return [a for (a,) in s.query(AuditEntry.action).filter(AuditEntry.alarm_id.is_not(None))]


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class HttpReceiver:
    """A real HTTP server on loopback that records every request and answers with the next
    status in `statuses` (then `default`)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.statuses: list[int] = []
        self.default = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.requests.append(
                    Request(self.command, self.path, dict(self.headers.items()), body)
                )
                status = outer.statuses.pop(0) if outer.statuses else outer.default
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_POST = do_GET = _any  # noqa: N815 - http.server's naming

            def log_message(self, *a: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver()
    yield r
    r.server.shutdown()
    r.server.server_close()
