"""The simulated board's parts behave like the real ones: ticks wrap like MicroPython's, the
button bounces, the battery drains, flash writes survive power cuts, board profiles are whole."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devstack.interpreters import Interpreter
from hardware import boards
from hardware.battery import percent_from_mv
from hardware.sim.clock import TICKS_PERIOD, ticks_add, ticks_diff


@given(
    a=st.integers(0, TICKS_PERIOD - 1),
    d=st.integers(-(TICKS_PERIOD // 2) + 1, TICKS_PERIOD // 2 - 1),
)
def test_ticks_diff_inverts_ticks_add_across_the_wrap(a: int, d: int) -> None:
    b = ticks_add(a, d)
    assert 0 <= b < TICKS_PERIOD
    assert ticks_diff(b, a) == d


@pytest.mark.micropython
def test_sim_ticks_match_micropython_time_module(micropython: Interpreter) -> None:
    # The real port's ticks period, measured: our clock must wrap at the same place.
    period = micropython.eval("__import__('time').ticks_add(0, -1) + 1")
    assert period == TICKS_PERIOD
    for a, b in [(5, TICKS_PERIOD - 5), (TICKS_PERIOD - 5, 5), (100, 7)]:
        assert micropython.eval(f"__import__('time').ticks_diff({a}, {b})") == ticks_diff(a, b)


def test_virtual_clock_starts_near_the_wrap_and_wraps(device: Interpreter) -> None:
    device.exec(
        "from hardware.sim.clock import VirtualClock\n_vc = VirtualClock()\n"
        "_vc_t0 = _vc.ticks_ms()\n_vc.advance(10000)"
    )
    assert device.eval("_vc.ticks_ms() < _vc_t0") is True
    assert device.eval("_vc.ticks_diff(_vc.ticks_ms(), _vc_t0)") == 10000


def test_button_bounces_then_settles(device: Interpreter) -> None:
    device.exec(
        "from hardware.sim.clock import VirtualClock\nfrom hardware.sim.button import "
        "SimButton\n_bc = VirtualClock()\n_bb = SimButton(_bc)\n_bb.press(0, 500, 15, 4)\n"
        "_bl = []\nfor _ in range(600):\n    _bl.append(1 if _bb() else 0)\n"
        "    _bc.advance(1)\n"
    )
    levels = device.eval("_bl")
    assert 0 < sum(levels[:15]) < 15  # chatter while the contacts settle
    assert all(levels[15:500])
    assert 0 < sum(levels[500:515]) < 15
    assert not any(levels[515:])


def test_battery_drains_with_time(device: Interpreter) -> None:
    device.exec(
        "from hardware.sim.clock import VirtualClock\nfrom hardware.sim.battery import "
        "SimBattery\n_dc = VirtualClock()\n_db = SimBattery(_dc, 80, 10)\n"
        "_dc.advance(3 * 3600000)"
    )
    assert device.eval("_db()") == 50


def test_store_survives_a_cut_at_every_operation(device: Interpreter) -> None:
    # Overwrite a record with a cut at each flash operation in turn: the old or the new value
    # is read back, never a torn one.
    root = "/cutstore" if device.name == "micropython" else __import__("tempfile").mkdtemp()
    device.exec(
        "from hardware.sim.flash import SimFlash, PowerCut\n"
        f"_cs = SimFlash({root!r})\n_cs.write('rec', b'old-value')\n_cs_seen = []\n"
        "for _n in range(4):\n"
        "    _cs.cut_after = _n\n"
        "    try:\n"
        "        _cs.write('rec', b'new-value')\n"
        "    except PowerCut:\n"
        "        pass\n"
        "    _cs.cut_after = -1\n"
        "    _cs_seen.append(_cs.read('rec'))\n"
        "    _cs.write('rec', b'old-value')\n"
    )
    seen = device.eval("_cs_seen")
    assert set(seen) <= {b"old-value", b"new-value"}
    assert b"new-value" in seen


def test_battery_curve_is_monotonic_and_bounded() -> None:
    values = [percent_from_mv(mv) for mv in range(3000, 4300, 5)]
    assert values == sorted(values)
    assert values[0] == 0 and values[-1] == 100


@pytest.mark.parametrize("name", sorted(boards.BOARDS))
def test_board_profiles_name_every_part(name: str) -> None:
    p = boards.profile(name)
    assert p["imu"] in ("mpu6050", "mpu6886")
    assert p["button"]["pin"] not in (p["i2c"]["sda"], p["i2c"]["scl"])
    pins = [p["i2c"]["sda"], p["i2c"]["scl"], p["button"]["pin"], p["battery"]["pin"]]
    pins += [p[k]["pin"] for k in ("buzzer", "led", "vibe") if p[k]]
    assert len(pins) == len(set(pins)), "two parts on one pin"
    assert 32 <= p["battery"]["pin"] <= 39, "battery on ADC1: ADC2 is unusable with the radio on"
    with pytest.raises(ValueError):
        boards.profile("no-such-board")
