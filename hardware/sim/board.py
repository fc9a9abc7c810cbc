# The simulated board: every part the fob needs, built to behave like the real ones, plus boot()
# which starts the real firmware on them (again after a reboot, on the same flash).
from firmware.wiring import build_fob
from hardware.sim.accel import SimAccel
from hardware.sim.battery import SimBattery
from hardware.sim.button import SimButton
from hardware.sim.clock import VirtualClock
from hardware.sim.flash import SimFlash


class SimBoard:
    def __init__(self, root, clock=None, links=(), on_feedback=None):
        self.clock = clock if clock is not None else VirtualClock()
        if not hasattr(self.clock, "elapsed"):
            self.clock.elapsed = 0
        self.button = SimButton(self.clock)
        self.accel = SimAccel(self.clock)
        self.battery = SimBattery(self.clock)
        self.flash = SimFlash(root)
        self.links = list(links)
        self.levels = {"vibe": 0, "buzzer": 0, "led": 0}
        self._on_feedback = on_feedback
        self.fob = None
        self.admin = None
        self.boots = 0

    def _level(self, name):
        def set_level(v):
            self.levels[name] = v

        return set_level

    def boot(self, trace=None):
        # Power-on: a fresh fob over whatever the flash holds; RAM state is gone. Wired by
        # firmware/wiring.py, as on the device.
        parts = {
            "button": self.button,
            "accel": self.accel,
            "battery": self.battery,
            "vibe": self._level("vibe"),
            "buzzer": self._level("buzzer"),
            "led": self._level("led"),
        }
        self.fob, self.admin = build_fob(
            self.clock, parts, self.flash, self.links, "sim", trace, self._on_feedback
        )
        self.boots += 1
        return self.fob
