"""Downlink frames: verified with the device key and a replay window before they do anything;
ACK stops the retries, ACK_HELP gives the distinct "help is coming" pattern, COMMAND acts."""

from __future__ import annotations

from typing import Any

from host_tests.support.firmware import DEVICE_ID, KEY, of_type
from protocol import frame_types as ft
from protocol import frames

QUIET = {"no_motion_s": 0, "heartbeat_s": 3600}


def down(
    ftype: int, counter: int, fields: tuple[int, ...], key: bytes = KEY, device_id: int = DEVICE_ID
) -> list[Any]:
    return ["downlink", frames.encode(ftype, device_id, counter, fields, key).hex()]


def cmd(command: int, arg: int, value: int) -> list[Any]:
    return ["monitor", ft.COMMAND, [command, arg, value]]


def fb(log: dict[str, Any]) -> list[str]:
    return [n for _, n in log["feedback"]]


def test_ack_help_stops_retries_and_plays_help_coming(scenario: Any) -> None:
    # The heartbeat takes counter 0, the SOS counter 1.
    log = scenario(
        [["acks", 0], ["hold", 2200], ["wait", 5000], down(ft.ACK_HELP, 1, (1,)), ["wait", 120000]],
        config=QUIET,
    )
    sos = of_type(log, ft.SOS)
    assert 1 <= len(sos) <= 3
    assert sos[-1][0] < 7300, "retried after the ack"
    assert "help_coming" in fb(log)
    assert log["outbox"] == 1  # the un-acked boot heartbeat (acks are off), not the SOS


def test_replayed_forged_and_misdirected_downlinks_are_rejected_and_counted(scenario: Any) -> None:
    ack = down(ft.ACK_HELP, 5, (1,))
    uplink_as_down = frames.encode(ft.SOS, DEVICE_ID, 9, (100, 0, 0), KEY).hex()
    log = scenario(
        [
            ["acks", 0],
            ["hold", 2200],
            ack,
            ack,
            down(ft.ACK_HELP, 6, (1,), key=bytes(16)),
            down(ft.ACK_HELP, 7, (1,), device_id=DEVICE_ID + 1),
            ["downlink", uplink_as_down],
            ["downlink", "00" * 7],
        ],
        config=QUIET,
    )
    assert log["rejected"] == 5
    assert fb(log).count("help_coming") == 1


def test_replay_window_survives_reboot(scenario: Any) -> None:
    ack = down(ft.ACK_HELP, 5, (1,))
    log = scenario([["acks", 0], ["hold", 2200], ack, ["reboot"], ack], config=QUIET)
    assert log["rejected"] == 1
    assert fb(log).count("help_coming") == 1


def test_repeated_help_plays_once_per_alarm_per_boot(scenario: Any) -> None:
    # The monitor repeats ACK_HELP (fresh downlink counters) after the fob reboots, since one
    # sent while it was losing power was never shown: a repeat in the same boot stays quiet, the
    # first after a reboot plays again.
    log = scenario(
        [
            ["acks", 0],
            ["hold", 2200],
            down(ft.ACK_HELP, 5, (1,)),
            down(ft.ACK_HELP, 6, (1,)),
            ["reboot"],
            down(ft.ACK_HELP, 7, (1,)),
            down(ft.ACK_HELP, 8, (1,)),
        ],
        config=QUIET,
    )
    assert log["rejected"] == 0
    assert fb(log).count("help_coming") == 2


def test_command_starts_and_stops_checkin_and_sets_covert(scenario: Any) -> None:
    log = scenario(
        [
            cmd(ft.CMD_START_CHECKIN, 0, 45),
            ["wait", 100],
            cmd(ft.CMD_STOP_CHECKIN, 0, 0),
            ["wait", 100],
            cmd(ft.CMD_SET_COVERT, 1, 0),
            ["wait", 100],
            cmd(ft.CMD_LOCATE, 0, 0),
            ["wait", 100],
        ],
        config=QUIET,
    )
    ((_, start),) = of_type(log, ft.CHECKIN_START)
    assert start.as_dict()["duration_min"] == 45
    assert len(of_type(log, ft.CHECKIN_STOP)) == 1
    assert log["status"]["covert"] == 1
    assert "locate" in fb(log)


def test_command_sets_heartbeat_period(scenario: Any) -> None:
    log = scenario(
        [["wait", 100], cmd(ft.CMD_SET_HEARTBEAT, 0, 10), ["wait", 35000]],
        config={"no_motion_s": 0, "heartbeat_s": 3600},
    )
    assert len(of_type(log, ft.HEARTBEAT)) == 4  # at boot, then every 10 s


def test_command_sets_the_check_in_a_double_tap_starts(scenario: Any) -> None:
    """The console's "check-in preset": a later double tap starts a check-in of that length."""
    tap2 = [["press", 100], ["wait", 150], ["press", 100], ["wait", 700]]
    log = scenario(
        [cmd(ft.CMD_SET_CHECKIN_MIN, 0, 90), ["wait", 100], *tap2, ["wait", 100]], config=QUIET
    )
    ((_, start),) = of_type(log, ft.CHECKIN_START)
    assert start.as_dict()["duration_min"] == 90


def test_a_zero_check_in_preset_is_ignored(scenario: Any) -> None:
    tap2 = [["press", 100], ["wait", 150], ["press", 100], ["wait", 700]]
    log = scenario([cmd(ft.CMD_SET_CHECKIN_MIN, 0, 0), ["wait", 100], *tap2], config=QUIET)
    ((_, start),) = of_type(log, ft.CHECKIN_START)
    assert start.as_dict()["duration_min"] == 30  # firmware/config.py's default
