# The fob's settings: defaults here, overrides from provisioning or downlink commands on flash.
import json

FIRMWARE_VERSION = "0.1.0"

DEFAULTS = {
    "sos_hold_ms": 2000,  # long enough that a knock or grab is not an SOS
    "sos_cancel_s": 30,  # window after an SOS in which three taps send SOS-cancel
    "fall_cancel_s": 30,  # pre-alarm: time the worker has to say "I'm fine"
    "no_motion_s": 120,  # still this long -> alarm; 0 turns it off
    "no_motion_warn_s": 15,  # pre-warning before the no-motion alarm
    "heartbeat_s": 60,
    "checkin_min": 30,  # duration of a check-in started from the button
    "checkin_remind_s": 300,  # reminder this long before a check-in is due
    "covert": 0,  # 1: no buzzer or LED on alarms, vibration only
    "battery_low": [20, 10, 5],  # percent thresholds, each alerts once on the way down
}

_NAME = "config"


class Config:
    def __init__(self, store):
        self._store = store
        self.values = dict(DEFAULTS)
        raw = store.read(_NAME)
        if raw:
            try:
                saved = json.loads(raw)
            except ValueError:
                saved = {}  # unreadable config: run on defaults, never refuse to raise alarms
            for k in saved:
                if k in DEFAULTS:
                    self.values[k] = saved[k]

    def __getitem__(self, key):
        return self.values[key]

    def update(self, changes):
        for k in changes:
            if k not in DEFAULTS:
                raise KeyError(k)
            self.values[k] = changes[k]
        self._store.write(_NAME, json.dumps(self.values).encode())

    def reset(self):
        self.values = dict(DEFAULTS)
        self._store.remove(_NAME)
