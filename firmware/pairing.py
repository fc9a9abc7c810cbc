# The pairing window: the only time the fob accepts a NEW bond. The worker opens it with five
# quick taps (firmware/gestures.py TAP5, never an SOS hold); it closes at the first new bond or
# after WINDOW_MS, with a pattern for each (opened, bonded, closed without a bond). Bonded peers
# reconnect at any time and never need it. Both BLE links (firmware/ble_link.py on NimBLE,
# hardware/sim/ble.py on bumble) ask it two things:
#
#   allow_bond()            may this connection create or replace a bond? (counted if refused)
#   may_stay(since, now)    may a central that is not (yet) on a bond keep the fob's one link?
#
# and tell it bonded() when a new bond was stored, refuse() / dropped += 1 to count.
#
# Pure logic: the clock and the feedback are passed in, so it runs on CPython and MicroPython.
from protocol.const import const

# Long enough to pick up a phone, open the app (or run `vigil gateway pair`) and accept the
# phone's pairing prompt; short enough that a fob left pairable by mistake soon is not.
WINDOW_MS = const(60000)
# A central with no bond must encrypt on a bond, or be dropped, within this time: BlueZ, Android
# and bumble start encryption at once on a known bond, Web Bluetooth at its first protected
# access after discovery (a few seconds). The fob has one connection: a stranger that connects
# and never pairs delays a bonded gateway or phone by at most this much per attempt.
STRANGER_MS = const(8000)
# While the window is open an unbonded central may stay longer: the worker may be reading the
# phone's "Pair with Vigil?" prompt. Less than the window, so a squatter cannot hold all of it.
PAIRING_GRACE_MS = const(30000)


class PairingWindow:
    # clock: ticks_ms/ticks_diff/ticks_add. feedback: callable(pattern name) or None.
    def __init__(self, clock, feedback=None):
        self._clock = clock
        self._feedback = feedback
        self.is_open = False  # read by the BLE IRQ handler: a plain attribute, no call
        self._until = 0
        self.opened = 0  # how often the worker opened it (this boot)
        self.bonds = 0  # new bonds accepted (inside a window)
        self.refused = 0  # pairing/bonding attempts refused outside a window
        self.dropped = 0  # unbonded centrals disconnected after their time (links count here)

    def open(self, now=None):
        now = self._clock.ticks_ms() if now is None else now
        self.is_open = True
        self._until = self._clock.ticks_add(now, WINDOW_MS)
        self.opened += 1
        self._play("pairing_open")

    def poll(self, now):
        # From the main loop: close the window when its time is up.
        if self.is_open and self._clock.ticks_diff(now, self._until) >= 0:
            self.is_open = False
            self._play("pairing_closed")

    def allow_bond(self):
        # Asked when a central starts pairing (bumble) or the stack stores a bond (NimBLE).
        if self.is_open:
            return True
        self.refuse()
        return False

    def refuse(self):
        # One refused attempt (a connection that tried to bond outside the window).
        self.refused += 1

    def bonded(self):
        # A new bond was stored inside the window: one bond per window.
        if not self.is_open:
            return False
        self.is_open = False
        self.bonds += 1
        self._play("pairing_bonded")
        return True

    def close(self):
        # Closed without a bond by something other than its time (e.g. a test or a command).
        if self.is_open:
            self.is_open = False
            self._play("pairing_closed")

    def may_stay(self, since, now):
        # since: ticks_ms when the (not yet bonded) central connected.
        limit = PAIRING_GRACE_MS if self.is_open else STRANGER_MS
        return self._clock.ticks_diff(now, since) < limit

    def _play(self, name):
        if self._feedback is not None:
            self._feedback(name)
