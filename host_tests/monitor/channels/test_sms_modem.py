"""SMS through a GSM modem: the channel drives the simulated SIM800 (hardware/sim/gsm_modem.py)
over a real pty with pyserial, as it would a modem on /dev/ttyUSB2. The modem is simulated
because a SIM and a network cannot be part of a test; it answers as the AT manual says."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from hardware.sim.gsm_modem import GsmModem
from host_tests.monitor.channels.conftest import (
    LOCATION,
    add_contact,
    attempts,
    delivery,
    step,
)
from host_tests.support.monitor import Env, sos
from monitor.channels.registry import ChannelRegistry
from monitor.channels.sms_modem import ModemConfig, ModemSmsChannel, gsm_text

_S = dt.timedelta(seconds=1)
NUMBER = "+447700900456"


@pytest.fixture
def modem() -> Iterator[GsmModem]:
    m = GsmModem()
    yield m
    m.close()


def _channels(modem: GsmModem, **kw: float) -> ChannelRegistry:
    return ChannelRegistry({"sms_modem": ModemSmsChannel(ModemConfig(port=modem.path, **kw))})


def _alarm(env: Env) -> dt.datetime:
    t0 = dt.datetime.now(dt.UTC)
    env.post_frames(sos(1, received_at=t0, location=LOCATION))
    return t0 + _S


def test_an_sms_goes_out_through_the_modem_in_text_mode(sqlite_env: Env, modem: GsmModem) -> None:
    add_contact(sqlite_env, "sms_modem", NUMBER)
    assert step(sqlite_env, _channels(modem), _alarm(sqlite_env)) == 1
    [(number, text)] = modem.sent
    assert number == NUMBER
    assert text.startswith("VIGIL SOS (panic button pressed): Sam Rivera")
    assert "51.49951,-0.12482" in text
    assert modem.commands[:3] == ["AT", "ATE0", "AT+CMGF=1"]
    assert json.loads(attempts(sqlite_env)[0])["channel"] == "sms_modem"


def test_a_slow_prompt_is_waited_for(sqlite_env: Env, modem: GsmModem) -> None:
    modem.prompt_delay_s = 1.5
    add_contact(sqlite_env, "sms_modem", NUMBER)
    assert step(sqlite_env, _channels(modem), _alarm(sqlite_env)) == 1
    assert len(modem.sent) == 1


def test_an_unknown_subscriber_is_dead_lettered_at_once(sqlite_env: Env, modem: GsmModem) -> None:
    modem.unknown.add(NUMBER)
    add_contact(sqlite_env, "sms_modem", NUMBER)
    step(sqlite_env, _channels(modem), _alarm(sqlite_env))
    d = delivery(sqlite_env)
    assert (d.status, d.attempts) == ("failed", 1)
    assert "+CMS ERROR: 30" in (d.last_error or "")


def test_no_network_is_retried_and_sent_once_the_network_is_back(
    sqlite_env: Env, modem: GsmModem
) -> None:
    modem.network = False
    add_contact(sqlite_env, "sms_modem", NUMBER)
    t = _alarm(sqlite_env)
    channels = _channels(modem)
    assert step(sqlite_env, channels, t) == 0
    d = delivery(sqlite_env)
    assert d.status == "pending" and "+CMS ERROR: 331" in (d.last_error or "")
    modem.network = True
    assert step(sqlite_env, channels, t + dt.timedelta(minutes=1)) == 1
    assert [json.loads(a)["outcome"] for a in attempts(sqlite_env)] == ["retry", "sent"]


def test_a_prompt_that_never_comes_is_abandoned_and_the_modem_still_works_after(
    sqlite_env: Env, modem: GsmModem
) -> None:
    modem.prompt_delay_s = 3.0
    add_contact(sqlite_env, "sms_modem", NUMBER)
    t = _alarm(sqlite_env)
    channels = _channels(modem, prompt_timeout_s=0.5)
    assert step(sqlite_env, channels, t) == 0
    d = delivery(sqlite_env)
    assert d.status == "pending" and "prompt" in (d.last_error or "")
    modem.prompt_delay_s = 0.0
    assert step(sqlite_env, channels, t + dt.timedelta(minutes=1)) == 1
    assert len(modem.sent) == 1


def test_a_missing_serial_port_is_a_retried_failure_not_a_crash(sqlite_env: Env) -> None:
    add_contact(sqlite_env, "sms_modem", NUMBER)
    missing = ModemSmsChannel(ModemConfig(port="/dev/does-not-exist-vigil"))
    assert step(sqlite_env, ChannelRegistry({"sms_modem": missing}), _alarm(sqlite_env)) == 0
    d = delivery(sqlite_env)
    assert d.status == "pending" and "modem port" in (d.last_error or "")


def test_gsm_text_keeps_control_characters_out_of_the_message() -> None:
    assert gsm_text("a\x1ab\x1bc é") == "a?b?c ?"
