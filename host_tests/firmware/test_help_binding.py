"""Finding 2 (issue 11): "help is coming" answers one alarm this fob raised and nothing else.

An ACK_HELP names the alarm's counter. A gateway can hold a genuine one back and deliver it
later; the fob must then not play it as the answer to a newer alarm, nor for an alarm that was
cancelled, resolved, already answered this boot, or older than the fob's own age limit. The
table of raised alarms (firmware/raised.py) is persisted, so the monitor's repeat after a reboot
still plays once. Everything runs on CPython and real MicroPython (the `device` fixture)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devstack.interpreters import Interpreter
from host_tests.support.firmware import DEVICE_ID, KEY
from protocol import frame_types as ft
from protocol import frames

QUIET = {"no_motion_s": 0, "heartbeat_s": 3600}
# Verdicts of firmware.raised.Raised.answer, spelt out here so a renumbering fails loudly.
SAY, REPEAT, UNKNOWN, REFUSED_CLOSED, REFUSED_OLD, SUPERSEDED, REFUSED_KIND = range(7)
MIN = 60000


def help_for(alarm_counter: int, downlink_counter: int) -> list[Any]:
    frame = frames.encode(ft.ACK_HELP, DEVICE_ID, downlink_counter, (alarm_counter,), KEY)
    return ["downlink", frame.hex()]


def helps(log: dict[str, Any]) -> int:
    return [n for _, n in log["feedback"]].count("help_coming")


def sos_counters(log: dict[str, Any]) -> list[int]:
    return [e["counter"] for e in log["events"] if e["event"] == "raised" and e["type"] == "sos"]


def test_finding_2_withheld_ack_help_for_an_old_alarm_does_not_say_help_for_a_newer_one(
    scenario: Callable[..., dict[str, Any]],
) -> None:
    # SOS A, then SOS B; the ACK_HELP for A, held back by a gateway, arrives while B waits.
    log = scenario(
        [
            ["acks", 0],
            ["hold", 2200],
            ["wait", 40000],  # past the cancel window: B is a new alarm
            ["hold", 2200],
            help_for(1, 5),  # A (counter 1; the boot heartbeat took 0)
        ],
        config=QUIET,
    )
    assert sos_counters(log) == [1, 2]
    assert helps(log) == 0, "help for A sounded like the answer to B"
    log = scenario(
        [["acks", 0], ["hold", 2200], ["wait", 40000], ["hold", 2200], help_for(2, 5)],
        config=QUIET,
    )
    assert helps(log) == 1  # B's own ACK_HELP is said


def test_finding_2_withheld_ack_help_across_a_reboot_does_not_answer_a_newer_alarm(
    scenario: Callable[..., dict[str, Any]],
) -> None:
    steps = [["acks", 0], ["hold", 2200], ["reboot"], ["hold", 2200]]
    log = scenario(steps, config=QUIET)
    a, b = sos_counters(log)  # counters jump after a reboot (reserved in blocks)
    log = scenario(steps + [help_for(a, 5)], config=QUIET)
    assert helps(log) == 0, "help for A sounded like the answer to B"
    log = scenario(steps + [help_for(a, 5), help_for(b, 6)], config=QUIET)
    assert helps(log) == 1  # for B only


def test_finding_2_help_for_an_alarm_the_fob_never_raised_is_not_said(
    scenario: Callable[..., dict[str, Any]],
) -> None:
    log = scenario([["acks", 0], ["hold", 2200], help_for(77, 5), help_for(0, 6)], config=QUIET)
    assert helps(log) == 0  # 77: never raised; 0: the boot heartbeat, not an alarm


def test_finding_2_a_cancelled_or_resolved_alarm_gets_no_help_even_after_a_reboot(
    scenario: Callable[..., dict[str, Any]],
) -> None:
    resolved = frames.encode(ft.ACK_RESOLVED, DEVICE_ID, 5, (1,), KEY).hex()
    log = scenario(
        [["acks", 0], ["hold", 2200], ["downlink", resolved], help_for(1, 6), ["reboot"]]
        + [help_for(1, 7)],
        config=QUIET,
    )
    assert helps(log) == 0
    # SOS, then three taps inside the cancel window: the cancel is sent and help never sounds.
    taps = [["press", 100], ["wait", 150]] * 3
    log = scenario(
        [["acks", 0], ["hold", 2200], ["wait", 500], *taps, ["wait", 1000], help_for(1, 5)]
        + [["reboot"], help_for(1, 6)],
        config=QUIET,
    )
    assert [e for e in log["events"] if e["event"] == "raised" and e["type"] == "sos_cancel"]
    assert helps(log) == 0


def test_finding_2_help_is_said_once_per_alarm_per_boot_and_repeats_stay_quiet(
    scenario: Callable[..., dict[str, Any]],
) -> None:
    log = scenario(
        [["acks", 0], ["hold", 2200], help_for(1, 5), help_for(1, 6), ["reboot"]]
        + [help_for(1, 7), help_for(1, 8), ["reboot"], help_for(1, 9)],
        config=QUIET,
    )
    assert helps(log) == 3  # once per boot: the monitor repeats it after each reboot


def test_finding_2_the_fob_refuses_help_older_than_its_own_limit(
    device: Interpreter, new_root: Callable[[], str]
) -> None:
    # The table alone, at explicit uptimes (30 min of virtual time is too slow to poll through).
    out = device.call(
        "hardware.sim.scenario:raised_run",
        new_root(),
        [
            ["add", 1, ft.SOS, 0],
            ["add", 2, ft.SOS, 10 * MIN],
            ["answer", 1, 31 * MIN],  # 31 min old: refused by the fob itself
            ["answer", 2, 31 * MIN],  # 21 min old: said
            ["answer", 2, 32 * MIN],  # again this boot: quiet
        ],
    )
    assert out[2:] == [REFUSED_OLD, SAY, REPEAT]


def test_finding_2_the_age_limit_survives_a_reboot_and_the_reboot_counts_against_it(
    device: Interpreter, new_root: Callable[[], str]
) -> None:
    root = new_root()
    out = device.call(
        "hardware.sim.scenario:raised_run",
        root,
        [
            ["add", 1, ft.SOS, 0],
            ["add", 2, ft.SOS, 10 * MIN],
            ["refresh", 25 * MIN],  # a heartbeat saves the ages: 25 and 15 min
            ["reboot"],
            ["answer", 1, 6 * MIN],  # 25 + 6 > 30 (the time off is unknown, so at least that)
            ["answer", 2, 6 * MIN],  # 15 + 6 < 30 and inside the boot window: said
        ],
    )
    assert out[3:] == [0, REFUSED_OLD, SAY]
    out = device.call(
        "hardware.sim.scenario:raised_run",
        new_root(),
        [
            ["add", 1, ft.SOS, 0],
            ["reboot"],
            ["answer", 1, 11 * MIN],  # young, but from before the boot and past its window
        ],
    )
    assert out == [None, 0, REFUSED_OLD]


def test_finding_2_low_battery_does_not_hold_back_help_and_an_older_alarm_is_superseded(
    device: Interpreter, new_root: Callable[[], str]
) -> None:
    out = device.call(
        "hardware.sim.scenario:raised_run",
        new_root(),
        [
            ["add", 1, ft.SOS, 0],
            ["add", 2, ft.LOW_BATTERY, 1000],
            ["answer", 1, 2000],  # low battery is not a call for help: SOS answered
            ["add", 3, ft.FALL, 3000],
            ["add", 4, ft.SOS, 4000],
            ["answer", 3, 5000],  # a newer SOS waits: the fall's help would answer it
            ["answer", 3, 5500],  # and stays quiet afterwards
            ["answer", 4, 6000],
        ],
    )
    assert out[2] == SAY and out[5:] == [SUPERSEDED, REPEAT, SAY]


def test_a_torn_or_corrupt_table_is_counted_and_refuses_help(
    device: Interpreter, new_root: Callable[[], str]
) -> None:
    # The table file cut short: the fob starts with an empty table (quieter, never misleading).
    root = new_root()
    device.call("hardware.sim.scenario:raised_run", root, [["add", 1, ft.SOS, 0]])
    device.call("hardware.sim.scenario:truncate", root + "/raised", 30)
    out = device.call("hardware.sim.scenario:raised_run", root, [["answer", 1, 1000]])
    assert out == [UNKNOWN]


def test_the_table_is_bounded_and_keeps_the_newest_alarms(
    device: Interpreter, new_root: Callable[[], str]
) -> None:
    ops: list[list[Any]] = [["add", c, ft.SOS, c * 1000] for c in range(1, 12)]
    ops += [["close", c, 12000] for c in range(1, 12)]
    ops += [["add", 20, ft.SOS, 13000], ["answer", 1, 14000], ["answer", 20, 14000]]
    out = device.call("hardware.sim.scenario:raised_run", new_root(), ops)
    assert out[-2:] == [UNKNOWN, SAY]


def test_issue_15_help_for_a_low_battery_alarm_is_never_said(
    device: Interpreter, new_root: Callable[[], str]
) -> None:
    # The monitor sends a plain ACK for a flat battery; an older monitor sent ACK_HELP, and the
    # worker heard "help is coming" for it. The fob refuses that on its own.
    out = device.call(
        "hardware.sim.scenario:raised_run",
        new_root(),
        [["add", 7, ft.LOW_BATTERY, 0], ["answer", 7, 1000], ["add", 8, ft.SOS, 2000]],
    )
    assert out[1] == REFUSED_KIND


def test_issue_15_a_low_battery_alarm_acknowledged_plays_nothing_on_the_fob(
    scenario: Callable[..., dict[str, Any]],
) -> None:
    steps: list[Any] = [["acks", 0], ["battery", 4], ["wait", 3000]]
    low = [
        e["counter"]
        for e in scenario(steps, config=QUIET)["events"]
        if e["event"] == "raised" and e["type"] == "low_battery"
    ]
    assert len(low) == 1
    log = scenario(steps + [help_for(low[0], 5), ["wait", 200]], config=QUIET)
    assert helps(log) == 0  # before issue 15 the fob played "help is coming" here
