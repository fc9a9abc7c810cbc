# What the worker feels, hears and sees. Patterns are on/off steps played without blocking from
# the main loop; covert mode keeps the vibration and drops buzzer and LED.
from protocol.const import const

_VIBE = const(1)
_BUZZ = const(2)
_LED = const(4)
_ALL = const(7)
_UNIT_MS = const(10)
# Rank (bits 4-5 of a pattern's head byte): a pattern does not cut short a more important one still
# playing, so the worker feels the whole SOS confirmation even if the delivery receipt arrives
# 10 ms later; a cancel ends the pre-alarm buzzing at once.


# name -> bytes: head (channels | rank << 4), then on, off, on, off... in 10 ms units. Literal
# bytes: a dict of tuples would cost several KiB of heap on the fob. Each pattern is distinct by
# rhythm alone, so it reads through a pocket with the buzzer off:
#   sos_raised 3 x 600 ms | prealarm 10 x 200/200 | cancelled 2 short | help_coming long,
#   short, short, long | delivered one 60 ms tick | not_provisioned one 1.5 s buzz |
#   pairing_open 5 x 80 ms (the five taps echoed) | pairing_bonded 2 x 400 ms |
#   pairing_closed 300, 200, 100 ms (winding down, no bond made)
PATTERNS = {
    "sos_raised": b"\x27\x3c\x14\x3c\x14\x3c\x00",
    "prealarm": b"\x27" + b"\x14" * 20,
    "cancelled": b"\x35\x08\x08\x08\x00",
    "help_coming": b"\x37\x64\x1e\x0f\x0f\x0f\x0f\x64\x00",
    "delivered": b"\x05\x06\x00",
    "resolved": b"\x05\x1e\x00",
    "no_motion_warning": b"\x27\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f\x0f",
    "alarm_sent": b"\x01\x28\x00",
    "checkin_started": b"\x05\x0a\x0a\x1e\x00",
    "checkin_stopped": b"\x05\x1e\x0a\x0a\x00",
    "checkin_reminder": b"\x07\x0a\x0a\x0a\x32\x0a\x0a\x0a\x32\x0a\x0a\x0a\x32",
    "low_battery": b"\x06\x05\x5f\x05\x5f\x05\x5f",
    "not_provisioned": b"\x27\x96\x00",
    "locate": b"\x26" + b"\x14" * 30,
    "ok": b"\x04\x0a\x00",
    # Rank 0: never cuts short an SOS confirmation or "help is coming" still playing.
    "pairing_open": b"\x07" + b"\x08" * 9 + b"\x00",
    "pairing_bonded": b"\x07\x28\x0f\x28\x00",
    "pairing_closed": b"\x07\x1e\x0a\x14\x0a\x0a\x00",
}


class Feedback:
    # vibe, buzzer, led: callables taking a level (0/1) or None if the board lacks one.
    # on_play(name, covert): optional observer (the simulated board prints it).
    def __init__(self, clock, vibe=None, buzzer=None, led=None, on_play=None):
        self._clock = clock
        self._outs = ((_VIBE, vibe), (_BUZZ, buzzer), (_LED, led))
        self._on_play = on_play
        self._pat = None
        self._i = 1
        self._mask = 0
        self._rank = 0
        self._until = 0
        self.last = None

    def play(self, name, covert=False):
        pat = PATTERNS[name]
        channels = pat[0] & _ALL
        # Covert: vibration only, unless the operator asked the fob to make itself found.
        if covert and name != "locate":
            channels &= _VIBE
        rank = pat[0] >> 4
        if self._pat is not None and rank < self._rank:
            return
        self._rank = rank
        self.last = name
        if self._on_play is not None:
            self._on_play(name, covert)
        self._set(0)
        self._pat = pat
        self._mask = channels
        self._i = 1
        self._until = self._clock.ticks_ms()

    def poll(self, now):
        pat = self._pat
        if pat is None or self._clock.ticks_diff(now, self._until) < 0:
            return
        i = self._i
        if i >= len(pat):
            self._set(0)
            self._pat = None
            return
        on = i & 1  # odd positions are "on" steps
        self._set(on)
        self._until = self._clock.ticks_add(now, pat[i] * _UNIT_MS)
        self._i = i + 1

    def _set(self, level):
        for bit, out in self._outs:
            if out is not None:
                out(level if (self._mask & bit) else 0)
