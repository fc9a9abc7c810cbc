"""The simulated board's wearer as the real firmware sees it, on both interpreters: the scripted
fall (hardware/sim/scripted_fall.py) is a fall to the fob's detector and its lying tail is
stillness to the no-motion timer; a wearer going about their work (hardware/sim/wearer.py)
keeps restarting that timer and never looks like a fall."""

from __future__ import annotations

from typing import Any

from devstack.interpreters import Interpreter
from firmware import fall_detector as fd
from hardware.sim import scripted_fall as sf
from host_tests.support.firmware import of_type, raised
from protocol import frame_types as ft

RATE = sf.RATE_HZ
FULL_SCALE_MG = 8000  # hardware/mpu.py sets +-8 g: a reading the fob gets never exceeds it


def _magnitude(s: tuple[int, int, int]) -> float:
    return float(sum(v * v for v in s)) ** 0.5


def test_scripted_fall_is_detected_by_the_fall_detector(device: Interpreter) -> None:
    device.exec(
        "from firmware import fall_detector as _fd\nfrom hardware.sim import scripted_fall as _sf\n"
        "_sfd = _fd.FallDetector(_sf.RATE_HZ)\n_sfe = []\n"
        "for _i, _s in enumerate(_sf.samples()):\n"
        "    _e = _sfd.step(_s[0], _s[1], _s[2])\n"
        "    if _e != _fd.NONE:\n"
        "        _sfe.append([_i, _e])\n"
    )
    events = device.eval("_sfe")
    falls = [i for i, e in events if e == fd.FALL]
    assert len(falls) == 1, events
    impact = sf.IMPACT_AT_MS * RATE // 1000
    # Judged POST_MS after the candidate's peak, which is inside the 80 ms impact.
    post = fd.POST_MS * RATE // 1000
    assert impact + post <= falls[0] <= impact + post + len(sf._IMPACT)
    # The peak of the detector's 25 Hz stream: pairs of 50 Hz samples averaged.
    assert 4000 <= device.eval("_sfd.peak_mg") <= 7000


def test_scripted_fall_is_a_plausible_imu_reading() -> None:
    s = sf.samples()
    assert len(s) == sf.LENGTH_MS * RATE // 1000
    assert all(isinstance(v, int) and -FULL_SCALE_MG <= v < FULL_SCALE_MG for x in s for v in x)
    m = [_magnitude(x) for x in s]
    fall, impact, still = (
        t * RATE // 1000 for t in (sf.FALL_AT_MS, sf.IMPACT_AT_MS, sf.STILL_AT_MS)
    )
    walking = m[:fall]
    assert 700 <= min(walking) and max(walking) <= 1600  # ~1 g with the gait's oscillation
    assert max(walking) - min(walking) >= 400
    assert 200 <= min(m[fall:impact]) <= 400  # towards free fall
    assert 4000 <= max(m[impact:still]) <= 8000  # an impact of several g
    assert all(970 <= v <= 1030 for v in m[still:])  # lying still at 1 g...
    assert s[0][2] > 900 and s[-1][0] > 900  # ...on another axis: upright z, then on the side x


def test_scripted_fall_tail_is_stillness_to_the_no_motion_timer(scenario: Any) -> None:
    # The last movement is the settling after the impact: the warning comes no_motion_s -
    # no_motion_warn_s after it, the alarm no_motion_s after it.
    cfg = {"no_motion_s": 20, "no_motion_warn_s": 15, "heartbeat_s": 3600}
    log = scenario([["fall"], ["wait", 25000]], config=cfg)
    assert len(raised(log, "fall")) == 1
    warn_t = [t for t, n in log["feedback"] if n == "no_motion_warning"]
    assert len(warn_t) == 1
    assert sf.IMPACT_AT_MS + 5000 <= warn_t[0] <= sf.STILL_AT_MS + 5000 + 50
    ((t, _),) = of_type(log, ft.NO_MOTION)
    assert t - warn_t[0] <= 15050


def test_moving_wearer_restarts_no_motion_until_they_stop(scenario: Any) -> None:
    # Default timings (120 s, warned 15 s before): two and a half minutes of going about their
    # work raise nothing; lying still from then on warns and alarms as on a worn fob.
    log = scenario(
        [["move", 1], ["wait", 150000], ["move", 0], ["wait", 125000]],
        config={"heartbeat_s": 3600},
    )
    warn_t = [t for t, n in log["feedback"] if n == "no_motion_warning"]
    assert len(warn_t) == 1 and 150000 + 105000 - 10000 <= warn_t[0] <= 150000 + 105000 + 50
    assert len(of_type(log, ft.NO_MOTION)) == 1
    assert raised(log, "fall") == []
    assert [
        e
        for e in log["events"]
        if e["event"] == "raised" and e["type"] not in ("no_motion", "heartbeat")
    ] == []
