"""Channel fixtures: a worker with one contact on the channel under test, and escalation steps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

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
