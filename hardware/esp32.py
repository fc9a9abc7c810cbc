# Turns a board profile into the parts firmware.fob.Hardware takes. Device only (machine).
import time

import machine

from hardware import boards
from hardware.battery import BatteryAdc
from hardware.mpu import SensorMissing


class _Button:
    # A callable level, plus an IRQ that only records and schedules (see firmware/main.py).
    def __init__(self, cfg):
        self._pin = machine.Pin(
            cfg["pin"], machine.Pin.IN, None if cfg["pin"] >= 34 else machine.Pin.PULL_UP
        )
        self._low = cfg["active_low"]

    def __call__(self):
        return self._pin.value() == (0 if self._low else 1)

    def irq(self, handler):
        self._pin.irq(handler, machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING)


def _out(cfg):
    if not cfg:
        return None
    pin = machine.Pin(cfg["pin"], machine.Pin.OUT, value=0)
    if cfg.get("active_low"):
        pin.value(1)
        return lambda v: pin.value(0 if v else 1)
    return pin.value


def _buzzer(cfg):
    if not cfg:
        return None
    pwm = machine.PWM(machine.Pin(cfg["pin"]), freq=cfg["freq"], duty_u16=0)

    def level(v):
        pwm.duty_u16(32768 if v else 0)

    return level


class _Imu:
    # Re-initialises a sensor that failed (brown-out reset, loose wire) on the next read.
    def __init__(self, dev):
        self._dev = dev

    def read(self):
        if not self._dev.ok:
            self._dev.init()
        return self._dev.read()


def build(name):
    cfg = boards.profile(name)
    if cfg["power_hold"] is not None:
        machine.Pin(cfg["power_hold"], machine.Pin.OUT, value=1)
    i2c_cfg = cfg["i2c"]
    i2c = machine.I2C(
        i2c_cfg["id"],
        sda=machine.Pin(i2c_cfg["sda"]),
        scl=machine.Pin(i2c_cfg["scl"]),
        freq=i2c_cfg["freq"],
    )
    if cfg["imu"] == "mpu6886":
        from hardware.mpu6886 import Mpu6886 as Imu
    else:
        from hardware.mpu6050 import Mpu6050 as Imu
    dev = Imu(i2c, cfg["imu_addr"], time.sleep_ms)
    try:
        dev.init()
    except SensorMissing as e:
        # Not fatal: SOS still works; every read retries the init and fails with OSError
        # until the sensor answers, which the fob reports as a sensor fault in heartbeats.
        print("vigil: %s" % e)
    accel = _Imu(dev)
    adc = machine.ADC(machine.Pin(cfg["battery"]["pin"]), atten=machine.ADC.ATTN_11DB)
    return {
        "button": _Button(cfg["button"]),
        "accel": accel,
        "battery": BatteryAdc(adc, cfg["battery"]["divider"]),
        "vibe": _out(cfg["vibe"]),
        "buzzer": _buzzer(cfg["buzzer"]),
        "led": _out(cfg["led"]),
    }
