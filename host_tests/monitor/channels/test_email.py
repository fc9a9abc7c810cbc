"""E-mail escalation against a real SMTP server (aiosmtpd) on loopback: what arrives, STARTTLS
and AUTH, and how each kind of SMTP failure is retried or dead-lettered."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from devstack.smtp_sink import SmtpSink, free_port, self_signed
from host_tests.monitor.channels.conftest import (
    LOCATION,
    actions,
    add_contact,
    attempts,
    delivery,
    step,
)
from host_tests.support.monitor import Env, sos
from monitor.channels.email import EmailChannel, SmtpConfig
from monitor.channels.registry import ChannelRegistry
from monitor.services import escalation

# Escalation steps run a second after the alarm was posted: it is stored after t0, in real time.
_S = dt.timedelta(seconds=1)


def _channels(sink: SmtpSink, **kw: object) -> ChannelRegistry:
    config = SmtpConfig(host=sink.host, port=sink.port, security="none", sender="vigil@example.org")
    return ChannelRegistry({"email": EmailChannel(SmtpConfig(**{**config.__dict__, **kw}))})


def test_an_escalated_alarm_arrives_as_an_email_saying_who_what_when_where_and_what_to_do(
    sqlite_env: Env, smtp: SmtpSink
) -> None:
    add_contact(sqlite_env, "email", "lead@example.org")
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t0, location=LOCATION))
    assert step(sqlite_env, _channels(smtp), t0 + _S) == 1
    [got] = smtp.wait_for(1)
    assert got.envelope_to == ["lead@example.org"]
    assert got.envelope_from == "vigil@example.org"
    m = got.message
    assert m["Subject"] == "[Vigil] SOS (panic button pressed): Sam Rivera"
    assert m["To"] == "lead@example.org"
    body = m.get_content()
    for expected in (
        "Worker: Sam Rivera (Housing visits)",
        "Alarm: SOS",
        f"Raised: {t0:%Y-%m-%d %H:%M}",
        "Position: 51.49951, -0.12482 (within 12 m), fix 40 s old",
        "openstreetmap.org/?mlat=51.49951&mlon=-0.12482",
        "Call Sam Rivera on +44 7700 900123",
        "999",
    ):
        assert expected in body, (expected, body)
    assert "LATE" not in body
    assert m["X-Vigil-Alarm"].isdigit()
    d = delivery(sqlite_env)
    assert (d.status, d.attempts) == ("sent", 1)
    [attempt] = [json.loads(a) for a in attempts(sqlite_env)]
    assert attempt["channel"] == "email" and attempt["outcome"] == "sent"


def test_an_email_sent_long_after_the_alarm_says_how_late_it_is(
    sqlite_env: Env, smtp: SmtpSink
) -> None:
    add_contact(sqlite_env, "email", "lead@example.org")
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, age_s=300, received_at=t0))  # raised 5 min before it reached us
    step(sqlite_env, _channels(smtp), t0 + _S)
    body = smtp.wait_for(1)[0].message.get_content()
    assert "LATE: this message is 5 min" in body
    assert "Position: not known" in body


def test_a_refused_mailbox_is_dead_lettered_at_once(sqlite_env: Env, smtp: SmtpSink) -> None:
    add_contact(sqlite_env, "email", "gone@example.org")
    smtp.refuse.add("gone@example.org")
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t0))
    step(sqlite_env, _channels(smtp), t0 + _S)
    d = delivery(sqlite_env)
    assert (d.status, d.attempts) == ("failed", 1)
    assert d.last_error is not None and "550" in d.last_error
    assert "escalation_failed" in actions(sqlite_env)
    [attempt] = [json.loads(a) for a in attempts(sqlite_env)]
    assert attempt["outcome"] == "failed" and attempt["permanent"] is True
    assert smtp.received == []


def test_a_deferred_mailbox_is_retried_with_backoff_until_it_takes_the_message(
    sqlite_env: Env, smtp: SmtpSink
) -> None:
    add_contact(sqlite_env, "email", "busy@example.org")
    smtp.defer.add("busy@example.org")
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t0))
    channels = _channels(smtp)
    assert step(sqlite_env, channels, t0 + _S) == 0
    d = delivery(sqlite_env)
    assert (d.status, d.attempts) == ("pending", 1) and "451" in (d.last_error or "")
    smtp.defer.clear()
    assert step(sqlite_env, channels, t0 + 2 * _S) == 0  # backoff: not yet
    assert step(sqlite_env, channels, t0 + _S + escalation.RETRY_BASE) == 1
    assert len(smtp.wait_for(1)) == 1
    outcomes = [json.loads(a)["outcome"] for a in attempts(sqlite_env)]
    assert outcomes == ["retry", "sent"]


def test_a_relay_that_is_down_is_retried_then_dead_lettered_after_max_attempts(
    sqlite_env: Env,
) -> None:
    add_contact(sqlite_env, "email", "lead@example.org")
    # A port nothing listens on: connection refused, as from a relay that is down.
    channels = ChannelRegistry(
        {"email": EmailChannel(SmtpConfig(host="127.0.0.1", port=free_port(), security="none"))}
    )
    t = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t))
    t += _S
    for _ in range(escalation.MAX_ATTEMPTS):
        step(sqlite_env, channels, t)
        t += dt.timedelta(hours=1)
    d = delivery(sqlite_env)
    assert (d.status, d.attempts) == ("failed", escalation.MAX_ATTEMPTS)
    assert "ConnectionRefusedError" in (d.last_error or "")
    outcomes = [json.loads(a)["outcome"] for a in attempts(sqlite_env)]
    assert outcomes == ["retry"] * (escalation.MAX_ATTEMPTS - 1) + ["failed"]


RELAY_USER, RELAY_PASSWORD = "vigil", "s3cret-relay"


def _to_relay(
    env: Env, sink: SmtpSink, cert: tuple[Path, Path], password: str
) -> tuple[ChannelRegistry, dt.datetime]:
    """An SOS for an e-mail contact, and the STARTTLS channel logging in with `password`."""
    add_contact(env, "email", "lead@example.org")
    t0 = dt.datetime.now(dt.UTC)
    env.post_frames(sos(1, received_at=t0))
    channels = _channels(
        sink,
        security="starttls",
        ca_file=str(cert[0]),
        username=RELAY_USER,
        password=password,
        host="localhost",
    )
    return channels, t0


def test_starttls_and_auth_against_a_relay_that_requires_both(
    sqlite_env: Env, tmp_path: Path
) -> None:
    cert = self_signed(tmp_path)
    sink = SmtpSink(tls_cert=cert, credentials=(RELAY_USER, RELAY_PASSWORD)).start()
    try:
        good, t0 = _to_relay(sqlite_env, sink, cert, RELAY_PASSWORD)
        assert step(sqlite_env, good, t0 + _S) == 1
        assert sink.wait_for(1)[0].envelope_to == ["lead@example.org"]
    finally:
        sink.stop()


def test_wrong_relay_password_is_dead_lettered_at_once(sqlite_env: Env, tmp_path: Path) -> None:
    cert = self_signed(tmp_path)
    sink = SmtpSink(tls_cert=cert, credentials=(RELAY_USER, RELAY_PASSWORD)).start()
    try:
        wrong, t0 = _to_relay(sqlite_env, sink, cert, "guess")
        step(sqlite_env, wrong, t0 + _S)
        d = delivery(sqlite_env)
        assert d.status == "failed" and "535" in (d.last_error or ""), d.last_error
        assert sink.received == []
    finally:
        sink.stop()


def test_a_contact_on_a_channel_this_monitor_has_not_configured_fails_visibly(
    sqlite_env: Env,
) -> None:
    add_contact(sqlite_env, "email", "lead@example.org")
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t0))
    step(sqlite_env, ChannelRegistry({}), t0 + _S)
    d = delivery(sqlite_env)
    assert d.status == "failed" and "not configured" in (d.last_error or "")


def test_a_malformed_address_is_dead_lettered_without_touching_the_relay(
    sqlite_env: Env, smtp: SmtpSink
) -> None:
    add_contact(sqlite_env, "email", "lead@example.org\r\nBcc: everyone@example.org")
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t0))
    step(sqlite_env, _channels(smtp), t0 + _S)
    d = delivery(sqlite_env)
    assert d.status == "failed" and "not an e-mail address" in (d.last_error or "")
    assert smtp.received == []


def test_a_relay_that_requires_starttls_refuses_a_plaintext_client_permanently(
    sqlite_env: Env, tmp_path: Path
) -> None:
    """security=none against a relay that demands STARTTLS: its 530 is a configuration fault,
    dead-lettered with the relay's words, not retried for ten minutes."""
    sink = SmtpSink(tls_cert=self_signed(tmp_path)).start()
    try:
        add_contact(sqlite_env, "email", "lead@example.org")
        t0 = dt.datetime.now(dt.UTC)
        sqlite_env.post_frames(sos(1, received_at=t0))
        step(sqlite_env, _channels(sink), t0 + _S)
        d = delivery(sqlite_env)
        assert d.status == "failed" and "530" in (d.last_error or ""), d.last_error
    finally:
        sink.stop()


def test_every_attempt_shows_on_the_alarms_timeline_with_channel_outcome_and_error(
    sqlite_env: Env, smtp: SmtpSink
) -> None:
    add_contact(sqlite_env, "email", "busy@example.org")
    smtp.defer.add("busy@example.org")
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t0))
    channels = _channels(smtp)
    step(sqlite_env, channels, t0 + _S)
    smtp.defer.clear()
    step(sqlite_env, channels, t0 + dt.timedelta(minutes=1))
    h = sqlite_env.token()
    [alarm] = sqlite_env.client.get("/v1/alarms", headers=h).json()
    timeline = sqlite_env.client.get(f"/v1/alarms/{alarm['id']}", headers=h).json()["timeline"]
    tried = [e["details"] for e in timeline if e["action"] == "delivery_attempt"]
    assert [(a["channel"], a["attempt"], a["outcome"]) for a in tried] == [
        ("email", 1, "retry"),
        ("email", 2, "sent"),
    ]
    assert "451" in tried[0]["error"]


def test_implicit_tls_relay_on_its_own_port(sqlite_env: Env, tmp_path: Path) -> None:
    cert = self_signed(tmp_path)
    sink = SmtpSink(tls_cert=cert, implicit_tls=True).start()
    try:
        add_contact(sqlite_env, "email", "lead@example.org")
        t0 = dt.datetime.now(dt.UTC)
        sqlite_env.post_frames(sos(1, received_at=t0))
        tls = _channels(sink, security="tls", ca_file=str(cert[0]), host="localhost")
        assert step(sqlite_env, tls, t0 + _S) == 1
        assert len(sink.wait_for(1)) == 1
    finally:
        sink.stop()


def test_a_relay_certificate_nobody_trusts_is_refused_and_nothing_is_sent(
    sqlite_env: Env, tmp_path: Path
) -> None:
    sink = SmtpSink(tls_cert=self_signed(tmp_path)).start()
    try:
        add_contact(sqlite_env, "email", "lead@example.org")
        t0 = dt.datetime.now(dt.UTC)
        sqlite_env.post_frames(sos(1, received_at=t0))
        untrusting = _channels(sink, security="starttls", host="localhost")  # system CAs only
        step(sqlite_env, untrusting, t0 + _S)
        d = delivery(sqlite_env)
        assert d.status == "failed" and "certificate" in (d.last_error or ""), d.last_error
        assert sink.received == []
    finally:
        sink.stop()
