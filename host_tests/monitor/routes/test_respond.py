"""Escalation contacts answer from the link in their message: "I'm on it" or "can't help".

Real app and database (SQLite, and PostgreSQL with -m postgres); the contact's phone is the
test client opening the link. The channel is a recorder (`Outbox`): what is under test is the
link it carries and the page behind it, not how the message travels (the channels have their
own tests against real servers).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select

from host_tests.support.monitor import Env, sos
from monitor.models import Contact, Delivery
from monitor.services import escalation
from monitor.services.responder_links import LinkSigner


class Outbox(escalation.Notifier):
    """Keeps each message instead of sending it (see the module docstring)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send(self, contact: Contact, message: dict[str, Any]) -> None:
        self.sent.append((contact.name, message))


def _ladder(env: Env) -> None:
    with env.app.state.db.session() as s:
        for pos, (name, delay) in enumerate((("Supervisor", 30), ("Manager", 90))):
            s.add(
                Contact(
                    worker_id=env.seeded.worker_id,
                    position=pos,
                    name=name,
                    webhook_url="http://127.0.0.1:9/unused",
                    delay_s=delay,
                )
            )


def _signer(env: Env) -> LinkSigner:
    return LinkSigner(env.app.state.settings.master_key, "http://testserver")


def _step(env: Env, outbox: Outbox, at: dt.datetime) -> None:
    with env.app.state.db.session() as s:
        escalation.schedule(s, now=at)
    escalation.deliver_due(env.app.state.db, outbox, now=at, links=_signer(env))


def _path(message: dict[str, Any]) -> str:
    return urlparse(message["respond_url"]).path


def _raise_and_escalate(env: Env) -> tuple[Outbox, dt.datetime, str]:
    _ladder(env)
    outbox = Outbox()
    t0 = dt.datetime.now(dt.UTC)
    env.post_frames(sos(1, received_at=t0, location={"lat": 52.2, "lon": 0.12, "accuracy_m": 9.0}))
    _step(env, outbox, t0 + dt.timedelta(seconds=31))
    [(name, message)] = outbox.sent
    assert name == "Supervisor"
    return outbox, t0, _path(message)


def _timeline(env: Env) -> list[dict[str, Any]]:
    h = env.token()
    aid = env.client.get("/v1/alarms", headers=h).json()[0]["id"]
    return env.client.get(f"/v1/alarms/{aid}", headers=h).json()["timeline"]  # type: ignore[no-any-return]


def test_the_link_opens_a_page_with_the_alarm_and_two_answers(env: Env) -> None:
    _outbox, _t0, path = _raise_and_escalate(env)
    assert path.startswith("/respond/")
    r = env.client.get(path)
    assert r.status_code == 200
    assert "Sam Rivera" in r.text and "SOS" in r.text
    assert "±9 m" in r.text  # the position with its accuracy
    assert 'value="on_it"' in r.text and 'value="cannot_help"' in r.text
    assert "set-cookie" not in r.headers


def test_on_it_is_audited_shown_and_stops_the_next_contact(env: Env) -> None:
    outbox, t0, path = _raise_and_escalate(env)
    r = env.client.post(path, data={"answer": "on_it"})
    assert r.status_code == 200 and "I&#39;m on it" in r.text
    answered = [e for e in _timeline(env) if e["action"] == "contact_answered"]
    assert [(e["actor"], e["details"]["answer"]) for e in answered] == [
        ("contact:Supervisor", "on_it")
    ]
    _step(env, outbox, t0 + dt.timedelta(seconds=200))
    assert [n for n, _ in outbox.sent] == ["Supervisor"]  # the manager is not called


def test_cannot_help_keeps_the_next_contacts_timer(env: Env) -> None:
    outbox, t0, path = _raise_and_escalate(env)
    assert env.client.post(path, data={"answer": "cannot_help"}).status_code == 200
    _step(env, outbox, t0 + dt.timedelta(seconds=89))
    assert [n for n, _ in outbox.sent] == ["Supervisor"]
    _step(env, outbox, t0 + dt.timedelta(seconds=91))
    assert [n for n, _ in outbox.sent] == ["Supervisor", "Manager"]


def test_a_used_link_says_so_and_the_first_answer_stands(env: Env) -> None:
    _outbox, _t0, path = _raise_and_escalate(env)
    env.client.post(path, data={"answer": "cannot_help"})
    again = env.client.post(path, data={"answer": "on_it"})
    assert again.status_code == 409 and "used already" in again.text
    assert env.client.get(path).status_code == 409
    answers = [e["details"]["answer"] for e in _timeline(env) if e["action"] == "contact_answered"]
    assert answers == ["cannot_help"]


def test_a_forged_or_damaged_link_changes_nothing(env: Env) -> None:
    _outbox, _t0, path = _raise_and_escalate(env)
    token = path.rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    other_key = LinkSigner("another-monitor-master-key-0123456789", "http://x").token(
        1, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )
    for bad in (forged, other_key, "not-a-token", "A" * 64):
        r = env.client.post(f"/respond/{bad}", data={"answer": "on_it"})
        assert r.status_code == 400 and "Nothing has been changed" in r.text, bad
    assert env.client.post(path, data={"answer": "maybe"}).status_code == 400
    assert not [e for e in _timeline(env) if e["action"] == "contact_answered"]


def test_a_link_expires_with_its_alarm(env: Env) -> None:
    _outbox, _t0, path = _raise_and_escalate(env)
    h = env.token()
    aid = env.client.get("/v1/alarms", headers=h).json()[0]["id"]
    r = env.client.post(
        f"/v1/alarms/{aid}/resolve", headers=h, json={"outcome": "false_alarm", "notes": None}
    )
    assert r.status_code == 200, r.text
    gone = env.client.post(path, data={"answer": "on_it"})
    assert gone.status_code == 410 and "resolved" in gone.text


def test_a_link_expires_with_its_time(env: Env) -> None:
    _raise_and_escalate(env)
    with env.app.state.db.session() as s:
        did = s.scalars(select(Delivery.id)).one()
    old = _signer(env).token(did, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    r = env.client.post(f"/respond/{old}", data={"answer": "on_it"})
    assert r.status_code == 410 and "expired" in r.text
