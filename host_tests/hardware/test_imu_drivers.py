"""The MPU-6050 and MPU-6886 drivers against register models of the datasheets, on CPython and
MicroPython: +-8 g, >= 50 Hz, readings in milli-g, a missing or wrong sensor reported not
crashed, a sensor that reset under us detected and re-initialised."""

from __future__ import annotations

import pytest

from devstack.interpreters import DeviceError, Interpreter

CHIPS = [("mpu6050", "Mpu6050", "SimMpu6050"), ("mpu6886", "Mpu6886", "SimMpu6886")]


def setup(device: Interpreter, mod: str, cls: str, sim: str, attach: bool = True) -> None:
    device.exec(
        "from hardware.sim.i2c import SimI2C, " + sim + "\n"
        "from hardware." + mod + " import " + cls + "\n"
        "_imu_motion = [(120, -340, 1000)]\n"
        "_imu_bus = SimI2C()\n"
        "_imu_chip = "
        + sim
        + "(lambda: _imu_motion[0])\n"
        + ("_imu_bus.attach(0x68, _imu_chip)\n" if attach else "")
        + "_imu = "
        + cls
        + "(_imu_bus)\n"
    )


@pytest.mark.parametrize(("mod", "cls", "sim"), CHIPS)
def test_init_sets_8g_and_at_least_50hz_and_reads_milli_g(
    device: Interpreter, mod: str, cls: str, sim: str
) -> None:
    setup(device, mod, cls, sim)
    assert device.eval("_imu_chip.asleep") is True  # as after power-on
    device.exec("_imu.init()")
    assert device.eval("_imu.ok") is True
    assert device.eval("_imu_chip.asleep") is False
    assert device.eval("_imu_chip.full_scale_g()") == 8
    assert device.eval("_imu_chip.rate_hz()") >= 50
    x, y, z = device.eval("_imu.read()")
    assert abs(x - 120) <= 1 and abs(y + 340) <= 1 and abs(z - 1000) <= 1


@pytest.mark.parametrize(("mod", "cls", "sim"), CHIPS)
def test_a_hard_fall_reads_up_to_8g_then_saturates(
    device: Interpreter, mod: str, cls: str, sim: str
) -> None:
    setup(device, mod, cls, sim)
    device.exec("_imu.init()\n_imu_motion[0] = (0, 5500, -7900)")
    _, y, z = device.eval("_imu.read()")
    assert abs(y - 5500) <= 1 and abs(z + 7900) <= 1  # 0.24 mg per LSB at +-8 g
    device.exec("_imu_motion[0] = (12000, 0, 1000)")
    assert device.eval("_imu.read()")[0] == 7999  # full scale, not wrapped negative


@pytest.mark.parametrize(("mod", "cls", "sim"), CHIPS)
def test_missing_sensor_raises_sensor_missing_not_crash(
    device: Interpreter, mod: str, cls: str, sim: str
) -> None:
    setup(device, mod, cls, sim, attach=False)
    with pytest.raises(DeviceError) as e:
        device.eval("_imu.init()")
    assert e.value.kind == "SensorMissing"
    assert device.eval("_imu.ok") is False


def test_wrong_chip_is_reported_by_name(device: Interpreter) -> None:
    setup(device, "mpu6050", "Mpu6050", "SimMpu6886")
    with pytest.raises(DeviceError) as e:
        device.eval("_imu.init()")
    assert e.value.kind == "SensorMissing" and "MPU-6050" in e.value.message


@pytest.mark.parametrize(("mod", "cls", "sim"), CHIPS)
def test_chip_reset_under_us_is_detected_on_read(
    device: Interpreter, mod: str, cls: str, sim: str
) -> None:
    setup(device, mod, cls, sim)
    device.exec("_imu.init()\n_imu_chip.reset()")  # a brown-out: back asleep, +-2 g
    with pytest.raises(DeviceError) as e:
        device.eval("_imu.read()")
    assert e.value.kind == "OSError"
    assert device.eval("_imu.ok") is False
    device.exec("_imu.init()")
    assert device.eval("_imu.read()")[2] == 1000
