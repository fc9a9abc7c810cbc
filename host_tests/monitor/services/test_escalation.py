"""Escalation to a real webhook receiver on loopback: ordering, delays, retries, records."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from host_tests.monitor.conftest import Env, sos
from monitor.models import AuditEntry, Contact, Delivery
from monitor.services import escalation


class Receiver:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_next = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.calls.append((self.path, body))
                if outer.fail_next > 0:
                    outer.fail_next -= 1
                    self.send_response(503)
                else:
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *a: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _ladder(env: Env, url: str) -> None:
    with env.app.state.db.session() as s:
        s.add(
            Contact(
                worker_id=env.seeded.worker_id,
                position=0,
                name="Supervisor",
                webhook_url=url + "/first",
                delay_s=30,
            )
        )
        s.add(
            Contact(
                worker_id=env.seeded.worker_id,
                position=1,
                name="Manager",
                webhook_url=url + "/second",
                delay_s=90,
            )
        )


def _step(env: Env, at: dt.datetime) -> int:
    with env.app.state.db.session() as s:
        escalation.schedule(s, now=at)
    return escalation.deliver_due(env.app.state.db, escalation.WebhookNotifier(), now=at)


def test_unacknowledged_alarm_notifies_contacts_in_order_after_their_delays(
    env: Env, receiver: Receiver
) -> None:
    _ladder(env, receiver.url)
    t0 = dt.datetime.now(dt.UTC)
    env.post_frames(sos(1, received_at=t0))
    assert _step(env, t0 + dt.timedelta(seconds=29)) == 0
    assert _step(env, t0 + dt.timedelta(seconds=31)) == 1
    assert _step(env, t0 + dt.timedelta(seconds=60)) == 0
    assert _step(env, t0 + dt.timedelta(seconds=91)) == 1
    assert [p for p, _ in receiver.calls] == ["/first", "/second"]
    assert receiver.calls[0][1]["alarm"]["kind"] == "sos"
    assert receiver.calls[0][1]["alarm"]["worker"]["name"] == "Sam Rivera"


def test_acknowledged_alarm_does_not_escalate(env: Env, receiver: Receiver) -> None:
    _ladder(env, receiver.url)
    t0 = dt.datetime.now(dt.UTC)
    env.post_frames(sos(1, received_at=t0))
    h = env.token()
    aid = env.client.get("/v1/alarms", headers=h).json()[0]["id"]
    env.client.post(f"/v1/alarms/{aid}/acknowledge", headers=h)
    assert _step(env, t0 + dt.timedelta(seconds=200)) == 0
    assert receiver.calls == []


def test_failed_delivery_is_retried_with_backoff_and_recorded(env: Env, receiver: Receiver) -> None:
    _ladder(env, receiver.url)
    receiver.fail_next = 2
    t0 = dt.datetime.now(dt.UTC)
    env.post_frames(sos(1, received_at=t0))
    t = t0 + dt.timedelta(seconds=31)
    assert _step(env, t) == 0  # 503
    assert _step(env, t + dt.timedelta(seconds=1)) == 0  # not due yet: backoff
    assert _step(env, t + dt.timedelta(seconds=5)) == 0  # second 503
    assert _step(env, t + dt.timedelta(seconds=15)) == 1
    with env.app.state.db.session() as s:
        [d] = s.scalars(select(Delivery)).all()
        assert (d.status, d.attempts, d.last_error) == ("sent", 3, "HTTP 503")
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.alarm_id.is_not(None))))
    assert actions.count("escalated") == 1 and actions.count("notified") == 1


def test_unreachable_webhook_gives_up_after_max_attempts(env: Env) -> None:
    _ladder(env, "http://127.0.0.1:9")  # discard port: connection refused
    t0 = dt.datetime.now(dt.UTC)
    env.post_frames(sos(1, received_at=t0))
    t = t0 + dt.timedelta(seconds=31)
    for _ in range(escalation.MAX_ATTEMPTS):
        _step(env, t)
        t += dt.timedelta(hours=1)
    with env.app.state.db.session() as s:
        first = s.scalars(select(Delivery).order_by(Delivery.id)).first()
        assert first is not None
        assert first.status == "failed" and first.attempts == escalation.MAX_ATTEMPTS
        assert first.last_error is not None and "ConnectError" in first.last_error
