# What the worker feels, hears and sees. Patterns are (on_ms, off_ms) steps played without
# blocking from the main loop; covert mode keeps the vibration and drops buzzer and LED.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


_VIBE = const(1)
_BUZZ = const(2)
_LED = const(4)
_ALL = const(7)

# name: (channels, steps). Each pattern is distinct by rhythm alone, so it reads through a
# pocket with the buzzer off.
PATTERNS = {
    "sos_raised": (_ALL, ((600, 200), (600, 200), (600, 0))),
    "prealarm": (_ALL, ((200, 200),) * 10),
    "cancelled": (_VIBE | _LED, ((80, 80), (80, 0))),
    "help_coming": (_ALL, ((1000, 300), (150, 150), (150, 150), (1000, 0))),
    "delivered": (_VIBE | _LED, ((60, 0),)),
    "resolved": (_VIBE | _LED, ((300, 0),)),
    "no_motion_warning": (_ALL, ((150, 150),) * 6),
    "alarm_sent": (_VIBE, ((400, 0),)),
    "checkin_started": (_VIBE | _LED, ((100, 100), (300, 0))),
    "checkin_stopped": (_VIBE | _LED, ((300, 100), (100, 0))),
    "checkin_reminder": (_ALL, ((100, 100), (100, 500)) * 3),
    "low_battery": (_BUZZ | _LED, ((50, 950),) * 3),
    "not_provisioned": (_ALL, ((1500, 0),)),
    "locate": (_BUZZ | _LED, ((200, 200),) * 15),
    "ok": (_LED, ((100, 0),)),
}

# A pattern does not cut short a more important one still playing: the worker must feel the
# whole SOS confirmation even if the delivery receipt arrives 10 ms later; a cancel ends the
# pre-alarm buzzing at once.
_RANK = {
    "help_coming": 3,
    "cancelled": 3,
    "sos_raised": 2,
    "prealarm": 2,
    "no_motion_warning": 2,
    "not_provisioned": 2,
    "locate": 2,
}
# Covert mode: vibration only, except when the operator asks the fob to make itself found.
_LOUD_IN_COVERT = ("locate",)


class Feedback:
    # vibe, buzzer, led: callables taking a level (0/1) or None if the board lacks one.
    # on_play(name, covert): optional observer (the simulated board prints it).
    def __init__(self, clock, vibe=None, buzzer=None, led=None, on_play=None):
        self._clock = clock
        self._outs = ((_VIBE, vibe), (_BUZZ, buzzer), (_LED, led))
        self._on_play = on_play
        self._steps = ()
        self._i = 0
        self._mask = 0
        self._until = 0
        self._on = False
        self._rank = 0
        self.last = None

    def play(self, name, covert=False):
        channels, steps = PATTERNS[name]
        if covert and name not in _LOUD_IN_COVERT:
            channels &= _VIBE
        rank = _RANK.get(name, 1)
        if self._steps and rank < self._rank:
            return
        self._rank = rank
        self.last = name
        if self._on_play is not None:
            self._on_play(name, covert)
        self._set(0)
        self._steps = steps
        self._mask = channels
        self._i = 0
        self._on = False
        self._until = self._clock.ticks_ms()

    def poll(self, now):
        if not self._steps or self._clock.ticks_diff(now, self._until) < 0:
            return
        if self._on:
            self._on = False
            self._set(0)
            self._until = self._clock.ticks_add(now, self._steps[self._i][1])
            self._i += 1
            if self._i >= len(self._steps):
                self._steps = ()
            return
        self._on = True
        self._set(1)
        self._until = self._clock.ticks_add(now, self._steps[self._i][0])

    def _set(self, level):
        for bit, out in self._outs:
            if out is not None:
                out(level if (self._mask & bit) else 0)
