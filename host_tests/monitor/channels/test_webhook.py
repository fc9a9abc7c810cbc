"""Signed webhooks to a real HTTP server on loopback, and the receiver's verify(): forgeries,
tampering and replays are refused; 4xx is dead-lettered, 408/429/5xx retried."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from host_tests.monitor.channels.conftest import (
    HttpReceiver,
    add_contact,
    attempts,
    delivery,
    step,
)
from host_tests.support.monitor import Env, sos
from monitor.channels import webhook
from monitor.channels.registry import ChannelRegistry
from monitor.channels.webhook import SignatureInvalid, WebhookChannel, sign, verify

SECRET = "whsec-test-0123456789abcdef"
_S = dt.timedelta(seconds=1)


def _channels() -> ChannelRegistry:
    return ChannelRegistry({"webhook": WebhookChannel(secret=SECRET)})


def test_each_webhook_is_signed_over_timestamp_and_body_and_the_receiver_verifies_it(
    sqlite_env: Env, http_receiver: HttpReceiver
) -> None:
    add_contact(sqlite_env, "webhook", http_receiver.url + "/hook")
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t0))
    assert step(sqlite_env, _channels(), t0 + _S) == 1
    [req] = http_receiver.requests
    header = req.headers[webhook.HEADER]
    t = verify(SECRET, req.body, header)
    assert abs(time.time() - t) < 10
    body = json.loads(req.body)
    assert body["event"] == "vigil.alarm.escalated" and body["alarm"]["kind"] == "sos"
    assert json.loads(attempts(sqlite_env)[0])["channel"] == "webhook"


def test_verify_refuses_forgeries_tampering_and_replays() -> None:
    body = b'{"event":"vigil.alarm.escalated"}'
    now = 1_800_000_000
    good = sign(SECRET, body, timestamp=now)
    assert verify(SECRET, body, good, now=now + 299) == now
    cases = {
        "wrong secret": (sign("not-the-secret", body, timestamp=now), body, now),
        "tampered body": (good, body.replace(b"escalated", b"resolved"), now),
        "replay after 5 min": (good, body, now + 301),
        "from the future": (good, body, now - 301),
        "no header": ("", body, now),
        "malformed": ("v1=abc", body, now),
        "timestamp swapped": (good.replace(f"t={now}", f"t={now + 60}"), body, now + 60),
    }
    for why, (header, b, at) in cases.items():
        with pytest.raises(SignatureInvalid):
            verify(SECRET, b, header, now=at)
            pytest.fail(why)


def test_verify_accepts_any_of_several_signatures_while_a_secret_is_rotated() -> None:
    body = b"{}"
    old = sign("old-secret", body, timestamp=100)
    new = sign(SECRET, body, timestamp=100).split(",")[1]
    assert verify(SECRET, body, f"{old},{new}", now=100) == 100


def test_a_4xx_from_the_receiver_is_dead_lettered_at_once(
    sqlite_env: Env, http_receiver: HttpReceiver
) -> None:
    add_contact(sqlite_env, "webhook", http_receiver.url + "/gone")
    http_receiver.default = 410
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t0))
    step(sqlite_env, _channels(), t0 + _S)
    d = delivery(sqlite_env)
    assert (d.status, d.attempts, d.last_error) == ("failed", 1, "HTTP 410")


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_timeouts_rate_limits_and_5xx_are_retried(
    sqlite_env: Env, http_receiver: HttpReceiver, status: int
) -> None:
    add_contact(sqlite_env, "webhook", http_receiver.url + "/busy")
    http_receiver.statuses = [status]
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t0))
    assert step(sqlite_env, _channels(), t0 + _S) == 0
    assert delivery(sqlite_env).status == "pending"
    assert step(sqlite_env, _channels(), t0 + dt.timedelta(minutes=1)) == 1
    outcomes = [json.loads(a)["outcome"] for a in attempts(sqlite_env)]
    assert outcomes == ["retry", "sent"]
    assert len(http_receiver.requests) == 2
