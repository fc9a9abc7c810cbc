# Button gestures from a raw, bouncing level: debounced in the task, never in the interrupt.
#
#   hold >= hold_ms        HOLD, the moment the threshold passes (SOS)
#   press (debounced)      DOWN (cancels a fall pre-alarm, counts as movement)
#   n short presses        TAP1/TAP2/TAP3/TAP5 once no further press follows within gap_ms
#
# A hold clears the taps before it: taps then a hold is an SOS, never a tap gesture.
from protocol.const import const

NONE = const(0)
DOWN = const(1)
HOLD = const(2)
TAP1 = const(3)
TAP2 = const(4)
TAP3 = const(5)  # three or four
TAP5 = const(6)  # five or more: opens the BLE pairing window (firmware/pairing.py)

DEBOUNCE_MS = const(30)  # longer than a tactile switch's bounce, shorter than a deliberate tap
GAP_MS = const(500)  # taps further apart than this are separate gestures


class Gestures:
    def __init__(self, button, clock, hold_ms=2000, debounce_ms=DEBOUNCE_MS, gap_ms=GAP_MS):
        self._button = button
        self._clock = clock
        self.hold_ms = hold_ms
        self._debounce = debounce_ms
        self._gap = gap_ms
        now = clock.ticks_ms()
        self._raw = False
        self._changed = now
        self.pressed = False
        self._press_at = now
        self._held = False
        self._taps = 0
        self._release_at = now

    def poll(self, now):
        diff = self._clock.ticks_diff
        raw = bool(self._button())
        if raw != self._raw:
            self._raw = raw
            self._changed = now
        if raw != self.pressed and diff(now, self._changed) >= self._debounce:
            self.pressed = raw
            if raw:
                self._press_at = self._changed
                self._held = False
                return DOWN
            self._release_at = now
            if not self._held:
                self._taps += 1
            return NONE
        # The raw level must still be down: a release still bouncing is not a hold.
        if self.pressed and raw and not self._held and diff(now, self._press_at) >= self.hold_ms:
            self._held = True
            self._taps = 0
            return HOLD
        if self._taps and not self.pressed and diff(now, self._release_at) >= self._gap:
            n = self._taps
            self._taps = 0
            if n >= 5:
                return TAP5
            return TAP1 if n == 1 else (TAP2 if n == 2 else TAP3)
        return NONE
