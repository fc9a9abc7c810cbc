"""Fall pre-alarm and its cancel window, no-motion with pre-warning, heartbeat, timed check-in,
low battery and covert mode, all in virtual time on both interpreters."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from host_tests.support.firmware import of_type, raised
from protocol import frame_types as ft

QUIET = {"no_motion_s": 0, "heartbeat_s": 3600}


def names(log: dict[str, Any]) -> list[str]:
    return [n for _, n in log["feedback"]]


# The scripted fall (hardware/sim/scripted_fall.py) is confirmed about 6.4 s after it starts:
# 3.4 s of walking and falling, the impact, then the detector's 3 s after the peak.
CONFIRMED_AT_MS = 6400
CONFIRMED_BY_MS = 8000


@settings(max_examples=12)
@given(cancel_after=st.integers(200, 30000 - (CONFIRMED_BY_MS - CONFIRMED_AT_MS) - 500))
def test_cancel_inside_window_sends_fall_cancelled_and_no_fall(
    scenario: Any, cancel_after: int
) -> None:
    log = scenario(
        [
            ["fall"],
            ["wait", CONFIRMED_BY_MS],
            ["wait", cancel_after],
            ["press", 150],
            ["wait", 40000],
        ],
        config=QUIET,
    )
    (fall_ev,) = raised(log, "fall")
    assert of_type(log, ft.FALL) == []
    ((_, cancel),) = of_type(log, ft.FALL_CANCELLED)
    assert cancel.as_dict()["cancels_counter"] == fall_ev["counter"]
    assert "prealarm" in names(log) and "cancelled" in names(log)


def test_uncancelled_fall_is_sent_when_the_window_closes(scenario: Any) -> None:
    log = scenario([["fall"], ["wait", 40000]], config=QUIET)
    (fall_ev,) = raised(log, "fall")
    ((t, fall),) = of_type(log, ft.FALL)
    assert fall.counter == fall_ev["counter"]
    assert t - fall_ev["t"] == 30000 or 0 <= t - fall_ev["t"] - 30000 <= 20
    assert fall.as_dict()["detail"] >= 25  # impact peak in 0.1 g: the scripted 3.5 g hit
    assert fall.as_dict()["age_s"] == 30  # raised at the impact, not at the end of the window


def test_fall_window_is_configurable(scenario: Any) -> None:
    log = scenario([["fall"], ["wait", 20000]], config={**QUIET, "fall_cancel_s": 10})
    (fall_ev,) = raised(log, "fall")
    ((t, _),) = of_type(log, ft.FALL)
    assert 10000 <= t - fall_ev["t"] <= 10050


def test_reboot_during_prealarm_raises_the_fall_at_once(scenario: Any) -> None:
    log = scenario([["fall"], ["wait", CONFIRMED_BY_MS], ["reboot"], ["wait", 200]], config=QUIET)
    ((_, fall),) = of_type(log, ft.FALL)
    assert fall.as_dict()["age_lower_bound"]


def test_no_motion_warns_then_alarms_and_movement_rearms(scenario: Any) -> None:
    cfg = {"no_motion_s": 60, "no_motion_warn_s": 15, "heartbeat_s": 3600}
    log = scenario([["walk", 1], ["wait", 5000], ["walk", 0], ["wait", 50000]], config=cfg)
    assert "no_motion_warning" in names(log)
    assert of_type(log, ft.NO_MOTION) == []
    log = scenario(
        [
            ["walk", 1],
            ["wait", 5000],
            ["walk", 0],
            ["wait", 70000],
            ["walk", 1],
            ["wait", 5000],
            ["walk", 0],
            ["wait", 70000],
        ],
        config=cfg,
    )
    warn_t = [t for t, n in log["feedback"] if n == "no_motion_warning"]
    alarms = of_type(log, ft.NO_MOTION)
    assert len(alarms) == 2
    # Still from 5 s: warned 45 s later, alarm 15 s after the warning.
    assert 50000 <= warn_t[0] <= 50050
    assert 15000 <= alarms[0][0] - warn_t[0] <= 15050


def test_failed_sensor_is_reported_in_heartbeat_not_crash(scenario: Any) -> None:
    log = scenario([["sensor", 0], ["wait", 61000]], config={"heartbeat_s": 60})
    beats = of_type(log, ft.HEARTBEAT)
    assert beats[0][1].fields[1] & ft.HB_BOOTED
    assert beats[-1][1].fields[1] & ft.HB_SENSOR_FAULT
    assert of_type(log, ft.NO_MOTION) == []
    assert log["status"]["sensor_ok"] is False


def test_heartbeat_carries_battery_flags_depth_uptime(scenario: Any) -> None:
    log = scenario(
        [["battery", 77], ["link", 0], ["hold", 2200], ["wait", 30000], ["link", 1], ["wait", 200]],
        config={"heartbeat_s": 20, "no_motion_s": 0},
    )
    beats = [f.as_dict() for _, f in of_type(log, ft.HEARTBEAT)]
    assert beats, log["events"]
    # Heartbeats coalesce while the link is down: one sent, the latest, showing the SOS queued.
    assert len(beats) == 1
    assert beats[0]["battery_pct"] == 77 and beats[0]["outbox_depth"] == 2
    assert beats[0]["flags"] & ft.HB_BOOTED == 0


def test_checkin_reminds_then_goes_overdue(scenario: Any) -> None:
    cfg = {**QUIET, "checkin_remind_s": 60}
    log = scenario([["checkin", 2], ["wait", 125000]], config=cfg)
    ((_, start),) = of_type(log, ft.CHECKIN_START)
    assert start.as_dict()["duration_min"] == 2
    ((t, _),) = of_type(log, ft.CHECKIN_OVERDUE)
    assert 120000 <= t <= 120100
    remind = [t for t, n in log["feedback"] if n == "checkin_reminder"]
    assert remind and 60000 <= remind[0] <= 60100


def test_double_tap_starts_and_stops_a_checkin(scenario: Any) -> None:
    tap2 = [["press", 100], ["wait", 150], ["press", 100], ["wait", 700]]
    log = scenario(tap2 + [["wait", 5000]] + tap2 + [["wait", 3600000 // 10]], config=QUIET)
    assert len(of_type(log, ft.CHECKIN_START)) == 1
    assert len(of_type(log, ft.CHECKIN_STOP)) == 1
    assert of_type(log, ft.CHECKIN_OVERDUE) == []


def test_checkin_survives_reboot(scenario: Any) -> None:
    log = scenario(
        [["checkin", 1], ["wait", 10000], ["reboot"], ["wait", 62000]],
        config={"no_motion_s": 0, "heartbeat_s": 10},
    )
    assert len(of_type(log, ft.CHECKIN_OVERDUE)) == 1


def test_low_battery_alerts_once_per_threshold_and_rearms_on_charge(scenario: Any) -> None:
    log = scenario(
        [
            ["battery", 25],
            ["wait", 6000],
            ["battery", 19],
            ["wait", 6000],
            ["battery", 18],
            ["wait", 6000],
            ["battery", 4],
            ["wait", 6000],
            ["battery", 60],
            ["wait", 6000],
            ["battery", 15],
            ["wait", 6000],
        ],
        config=QUIET,
    )
    details = [f.fields[1] for _, f in of_type(log, ft.LOW_BATTERY)]
    assert details == [20, 5, 20]


def test_covert_mode_silences_buzzer_and_led_on_alarm(device: Any, new_root: Any) -> None:
    root = new_root()
    device.exec(
        "from hardware.sim.scenario import Runner as _R\n"
        f"_cv = _R({root!r}, 9, '00' * 16, {{'covert': 1}})\n"
        "_cv.step(['hold', 2100])\n"
    )
    levels = device.eval("[dict(_cv.board.levels) for _ in range(1)][0]")
    assert levels["vibe"] == 1 and levels["buzzer"] == 0 and levels["led"] == 0
    root = new_root()
    device.exec(f"_cv2 = _R({root!r}, 9, '00' * 16, {{'covert': 0}})\n_cv2.step(['hold', 2100])")
    levels = device.eval("_cv2.board.levels")
    assert levels["buzzer"] == 1 and levels["led"] == 1
