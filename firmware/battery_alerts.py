# Battery level and low-battery alerts: one LOW_BATTERY for the lowest threshold crossed, and a
# threshold alerts again only once the level has climbed back above it (charging).
from protocol import frame_types as ft
from protocol.const import const

_EVERY_MS = const(5000)  # the ADC is slow and the level changes slowly
_REARM = const(3)  # percent above a threshold before it can alert again (charging)


class BatteryAlerts:
    def __init__(self, battery, config, report, raise_frame):
        self._battery = battery  # callable -> percent
        self._config = config
        self._report = report
        self._raise = raise_frame
        self.pct = 100  # last reading, sent in every alarm and heartbeat
        self._next = 0
        self._fired = []

    def poll(self, up):
        if up >= self._next:
            self._next = up + _EVERY_MS
            self._check(up)

    def _check(self, up):
        pct = max(0, min(int(self._battery()), 100))
        self.pct = pct  # before the alert below, which carries it
        fired = self._fired
        for t in list(fired):
            if pct > t + _REARM:
                fired.remove(t)
        for t in sorted(self._config["battery_low"]):
            if pct <= t:
                if t not in fired:
                    # One alert for the lowest threshold crossed; the higher ones are implied.
                    for t2 in self._config["battery_low"]:
                        if t2 >= t and t2 not in fired:
                            fired.append(t2)
                    self._raise(ft.LOW_BATTERY, t, up)
                    self._report.play("low_battery")
                break
