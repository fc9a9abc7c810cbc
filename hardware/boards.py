# Board profiles: which parts sit on which pins. Pure data, importable on the host (the build
# tool and the docs read it); hardware/esp32.py turns a profile into machine objects.
BOARDS = {
    # M5StickC Plus2: ESP32-PICO-V3-02 in a ready-made case with battery, IMU, buzzer, LED.
    "m5stickc-plus2": {
        "imu": "mpu6886",
        "i2c": {"id": 0, "sda": 21, "scl": 22, "freq": 400000},
        "imu_addr": 0x68,
        "button": {"pin": 37, "active_low": True},  # front button A, external pull-up
        "button2": {"pin": 39, "active_low": True},  # side button B (spare)
        "buzzer": {"pin": 2, "freq": 2700},  # passive: driven with PWM
        "led": {"pin": 19, "active_low": False},  # red LED
        "vibe": None,  # no motor on board; covert mode there gives no feedback at all
        "battery": {"pin": 38, "divider": 2},
        "power_hold": 4,  # must be driven high at boot or the Plus2 switches itself off
    },
    # ESP32-DevKitC + GY-521 (MPU-6050) + push button + coin vibration motor + LED + divider.
    "devkitc-mpu6050": {
        "imu": "mpu6050",
        "i2c": {"id": 0, "sda": 21, "scl": 22, "freq": 400000},
        "imu_addr": 0x68,  # AD0 low
        "button": {"pin": 27, "active_low": True},  # to GND, internal pull-up
        "button2": None,
        "buzzer": None,
        "led": {"pin": 2, "active_low": False},  # the DevKitC's own LED on some revisions
        "vibe": {"pin": 26},  # via an NPN transistor + flyback diode: a motor draws ~80 mA
        "battery": {"pin": 34, "divider": 2},  # 100k/100k from VBAT, ADC1 (works with BLE on)
        "power_hold": None,
    },
}

DEFAULT = "devkitc-mpu6050"


def profile(name):
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError("unknown board %r: one of %s" % (name, ", ".join(sorted(BOARDS))))
