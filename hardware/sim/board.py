# The simulated board: every part the fob needs, built to behave like the real ones, plus boot()
# which starts the real firmware on them (again after a reboot, on the same flash).
from firmware.feedback import Feedback
from firmware.fob import Fob, Hardware
from firmware.serial_link import LazyAdmin
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
        # Power-on: a fresh fob over whatever the flash holds; RAM state is gone.
        fb = Feedback(
            self.clock,
            vibe=self._level("vibe"),
            buzzer=self._level("buzzer"),
            led=self._level("led"),
            on_play=self._on_feedback,
        )
        hw = Hardware(
            self.clock, self.button, self.accel, self.battery, self.flash, fb, self.links, "sim"
        )
        self.fob = Fob(hw, trace)
        self.admin = LazyAdmin(self.fob)
        for link in self.links:
            link.attach(self.fob, self.admin)
        self.boots += 1
        return self.fob
