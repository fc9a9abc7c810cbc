"""Escalation to a real webhook receiver on loopback: ordering, delays, retries, records."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from host_tests.support.monitor import DEVICE_ID, Env, frame_item, sos
from monitor.models import Alarm, AuditEntry, Contact, Delivery, Device, Worker
from monitor.services import alarm_kinds as kinds
from monitor.services import alarms, escalation, jobs, scheduler, supervision
from protocol import frame_types as ft


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


# -- issue 11, finding 1: one failing delivery must never stop the others ---------------------

# Whatever a channel might raise: its own failure, a library's (httpx's ValueError on a message
# it cannot encode was the probe's), or a plain bug.
_ERRORS = st.sampled_from(
    [
        escalation.NotifyFailed("HTTP 503"),
        ValueError("Out of range float values are not JSON compliant"),
        TypeError("Object of type bytes is not JSON serializable"),
        KeyError("contact"),
        RuntimeError("boom"),
        OverflowError("date value out of range"),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
        ZeroDivisionError(),
        AttributeError("NoneType has no attribute 'post'"),
        httpx.ConnectError("refused"),
        RecursionError(),
    ]
)


class ScriptedChannel(escalation.Notifier):
    """A channel that raises the drawn exception for chosen contacts and records the rest.

    Faked on purpose: a real webhook receiver can only fail with HTTP errors; this one throws
    the arbitrary exception types a channel library could raise, which is what isolation is for.
    """

    def __init__(self, failing: dict[str, BaseException]) -> None:
        self.failing = failing
        self.sent: list[str] = []

    def send(self, contact: Contact, message: dict[str, Any]) -> None:
        json.dumps(message, allow_nan=False)  # what a real channel would have to send
        if contact.name in self.failing:
            raise self.failing[contact.name]
        self.sent.append(contact.name)


_worker_serial = itertools.count(1)


@settings(
    max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(plan=st.lists(st.one_of(st.none(), _ERRORS), min_size=1, max_size=6))
def test_finding_1_a_failing_channel_never_stops_any_other_contact_being_notified(
    sqlite_env: Env, plan: list[BaseException | None]
) -> None:
    db = sqlite_env.app.state.db
    n = next(_worker_serial)
    names = [f"w{n}-contact{i}" for i in range(len(plan))]
    failing = {name: err for name, err in zip(names, plan, strict=True) if err is not None}
    t0 = dt.datetime.now(dt.UTC)
    with db.session() as s:
        worker = Worker(name=f"Worker {n}")
        s.add(worker)
        s.flush()
        for i, name in enumerate(names):
            s.add(
                Contact(
                    worker_id=worker.id,
                    position=i,
                    name=name,
                    webhook_url="http://127.0.0.1:9/",
                    delay_s=0,
                )
            )
        alarm = alarms.raise_alarm(
            s, kind="sos", device=None, raised_at=t0, received_at=t0, stored_at=t0, actor="test"
        )
        alarm.worker_id = worker.id
    channel = ScriptedChannel(failing)
    failures_before = sum(jobs.FAILURES.values())
    with db.session() as s:
        escalation.schedule(s, now=t0)
    escalation.deliver_due(db, channel, now=t0)
    assert sorted(channel.sent) == sorted(set(names) - set(failing))
    with db.session() as s:
        rows = {
            c.name: d
            for d, c in s.execute(
                select(Delivery, Contact)
                .join(Contact, Contact.id == Delivery.contact_id)
                .where(Contact.worker_id == worker.id)
            )
        }
    for name in names:
        d = rows[name]
        if name in failing:
            # Recorded against that delivery and retried later, like any failed attempt.
            assert d.status == "pending" and d.attempts == 1 and d.last_error
        else:
            assert d.status == "sent"
    unexpected = [e for e in failing.values() if not isinstance(e, escalation.NotifyFailed)]
    assert sum(jobs.FAILURES.values()) - failures_before == len(unexpected)


def test_finding_1_an_alarm_stored_with_an_infinite_location_still_escalates_for_all(
    env: Env, receiver: Receiver
) -> None:
    """The probe's case end to end, with the real webhook client and a real receiver: a row the
    old ingest stored with lat=inf made httpx raise ValueError on every tick, for good."""
    _ladder(env, receiver.url)
    t0 = dt.datetime.now(dt.UTC)
    env.post_frames(sos(1, received_at=t0), sos(2, received_at=t0))
    with env.app.state.db.session() as s:
        first = s.scalars(select(Alarm).order_by(Alarm.id)).first()
        assert first is not None
        first.lat, first.lon = float("inf"), float("-inf")  # as the old ingest stored it
    assert _step(env, t0 + dt.timedelta(seconds=31)) == 2
    assert _step(env, t0 + dt.timedelta(seconds=91)) == 2
    assert sorted(p for p, _ in receiver.calls) == ["/first", "/first", "/second", "/second"]
    assert all(body["alarm"]["location"] is None for _, body in receiver.calls)


def test_finding_1_a_failing_supervision_job_does_not_stop_escalation_in_the_same_tick(
    env: Env, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Supervision is replaced by one that raises: a real failure of it (a database refusing
    one write) cannot be produced on demand without breaking escalation's database too."""
    _ladder(env, receiver.url)
    env.post_frames(sos(1, received_at=dt.datetime.now(dt.UTC)))
    with env.app.state.db.session() as s:
        for a in s.scalars(select(Alarm)):
            a.stored_at -= dt.timedelta(seconds=31)

    def broken(*_: Any, **__: Any) -> list[int]:
        raise RuntimeError("supervision broke")

    monkeypatch.setattr(supervision, "supervise", broken)
    before = jobs.FAILURES["supervision"]
    lead = scheduler.Leadership(env.app.state.db)
    assert scheduler.tick(
        env.app.state.db, env.app.state.settings, escalation.WebhookNotifier(), lead
    )
    assert jobs.FAILURES["supervision"] == before + 1
    assert [p for p, _ in receiver.calls] == ["/first"]


# -- issue 15: only alarms that still need a person escalate ---------------------------------


def _schedule(env: Env, at: dt.datetime, **policy: Any) -> list[str]:
    # The kinds of the alarms whose deliveries this round created.
    with env.app.state.db.session() as s:
        ids = escalation.schedule(s, now=at, **policy)
        return [
            s.get(Alarm, s.get(Delivery, d).alarm_id).kind  # type: ignore[union-attr]
            for d in ids
        ]


def test_an_alarm_the_worker_cancelled_at_the_fob_does_not_escalate(env: Env) -> None:
    _ladder(env, "http://127.0.0.1:9")
    t0 = dt.datetime.now(dt.UTC)
    env.post_frames(sos(20, received_at=t0), frame_item(ft.SOS_CANCEL, 21, (1, 0)))
    env.post_frames(sos(30, received_at=t0))
    assert _schedule(env, t0 + dt.timedelta(seconds=31)) == ["sos"]  # only the one not cancelled


def test_low_battery_escalates_only_when_the_organisation_asks(env: Env) -> None:
    _ladder(env, "http://127.0.0.1:9")
    t0 = dt.datetime.now(dt.UTC)
    env.post_frames(frame_item(ft.LOW_BATTERY, 5, (9, 0, 0), received_at=t0))
    later = t0 + dt.timedelta(seconds=31)
    assert _schedule(env, later) == []
    assert _schedule(env, later, low_battery=True) == ["low_battery"]


def test_device_offline_waits_its_own_longer_delay(env: Env) -> None:
    _ladder(env, "http://127.0.0.1:9")
    t0 = dt.datetime.now(dt.UTC)
    with env.app.state.db.session() as s:
        device = s.get(Device, DEVICE_ID)
        assert device is not None
        alarms.raise_alarm(
            s,
            kind=kinds.DEVICE_OFFLINE,
            device=device,
            raised_at=t0,
            received_at=t0,
            stored_at=t0,
            actor="system",
        )
    # First contact after 30 s for any other alarm; for offline, 30 s after the extra 600 s.
    assert _schedule(env, t0 + dt.timedelta(seconds=31), offline_delay_s=600) == []
    assert _schedule(env, t0 + dt.timedelta(seconds=629), offline_delay_s=600) == []
    assert _schedule(env, t0 + dt.timedelta(seconds=631), offline_delay_s=600) == ["device_offline"]
