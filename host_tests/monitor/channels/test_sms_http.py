"""SMS through an HTTP provider described by a request template, against a real HTTP server on
loopback: the request the provider gets, escaping, and how its answers are classified."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from host_tests.monitor.channels.conftest import (
    LOCATION,
    HttpReceiver,
    add_contact,
    attempts,
    delivery,
    step,
)
from host_tests.support.monitor import Env, sos
from monitor.channels.registry import ChannelRegistry
from monitor.channels.sms_http import SmsHttpChannel, SmsHttpConfig

_S = dt.timedelta(seconds=1)
NUMBER = "+447700900456"


def _channels(config: SmsHttpConfig) -> ChannelRegistry:
    return ChannelRegistry({"sms_http": SmsHttpChannel(config)})


def test_a_json_template_is_filled_with_the_number_and_an_escaped_text(
    sqlite_env: Env, http_receiver: HttpReceiver
) -> None:
    add_contact(sqlite_env, "sms_http", NUMBER)
    config = SmsHttpConfig(
        url=http_receiver.url + "/v1/messages",
        body_template='{"from": "Vigil", "to": "{to}", "body": "{text}"}',
        authorization="Bearer provider-token",
    )
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t0, location=LOCATION))
    assert step(sqlite_env, _channels(config), t0 + _S) == 1
    [req] = http_receiver.requests
    assert (req.method, req.path) == ("POST", "/v1/messages")
    assert req.headers["Authorization"] == "Bearer provider-token"
    assert req.headers["Content-Type"] == "application/json"
    sent = json.loads(req.body)  # still valid JSON, whatever the text holds
    assert sent["to"] == NUMBER and sent["from"] == "Vigil"
    assert sent["body"].startswith("VIGIL SOS (panic button pressed): Sam Rivera")
    assert "51.49951,-0.12482 +-12m" in sent["body"] and "Call +44 7700 900123" in sent["body"]
    assert json.loads(attempts(sqlite_env)[0])["channel"] == "sms_http"


def test_a_form_template_and_a_get_url_template_are_url_encoded(
    sqlite_env: Env, http_receiver: HttpReceiver
) -> None:
    add_contact(sqlite_env, "sms_http", NUMBER)
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t0))
    form = SmsHttpConfig(
        url=http_receiver.url + "/send", body_template="To={to}&Body={text}", body_format="form"
    )
    step(sqlite_env, _channels(form), t0 + _S)
    fields = parse_qs(http_receiver.requests[0].body.decode())
    assert fields["To"] == [NUMBER] and fields["Body"][0].startswith("VIGIL SOS")

    add_contact(sqlite_env, "sms_http", "+447700900457", name="Second")
    get = SmsHttpConfig(url=http_receiver.url + "/send?to={to}&msg={text}", method="GET")
    step(sqlite_env, _channels(get), t0 + 2 * _S)
    req = http_receiver.requests[-1]
    query = parse_qs(urlsplit(req.path).query)
    assert req.method == "GET" and query["to"] == ["+447700900457"]
    assert query["msg"][0].startswith("VIGIL SOS")


def test_a_provider_refusing_the_request_dead_letters_it_and_a_5xx_is_retried(
    sqlite_env: Env, http_receiver: HttpReceiver
) -> None:
    add_contact(sqlite_env, "sms_http", NUMBER)
    http_receiver.statuses = [503, 400]
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t0))
    channels = _channels(SmsHttpConfig(url=http_receiver.url + "/send"))
    step(sqlite_env, channels, t0 + _S)
    assert delivery(sqlite_env).status == "pending"
    step(sqlite_env, channels, t0 + dt.timedelta(minutes=1))
    d = delivery(sqlite_env)
    assert (d.status, d.attempts) == ("failed", 2) and (d.last_error or "").startswith("HTTP 400")
    outcomes = [json.loads(a)["outcome"] for a in attempts(sqlite_env)]
    assert outcomes == ["retry", "failed"]


def test_a_number_that_is_not_e164_never_reaches_the_provider(
    sqlite_env: Env, http_receiver: HttpReceiver
) -> None:
    add_contact(sqlite_env, "sms_http", "07700 900456")  # national form: which country?
    t0 = dt.datetime.now(dt.UTC)
    sqlite_env.post_frames(sos(1, received_at=t0))
    step(sqlite_env, _channels(SmsHttpConfig(url=http_receiver.url + "/send")), t0 + _S)
    d = delivery(sqlite_env)
    assert d.status == "failed" and "E.164" in (d.last_error or "")
    assert http_receiver.requests == []


def test_a_template_that_never_names_the_number_is_refused_at_start_and_the_monitor_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from monitor.channels import registry
    from monitor.core.config import Settings

    settings = Settings(
        environment="development",
        sms_http_url="https://sms.example/send",
        sms_http_body='{"text": "{text}"}',
    )
    with caplog.at_level("ERROR"):
        channels = registry.from_settings(settings)
    assert "no {to}" in caplog.text
    assert "sms_http" not in channels.configured
