# Clocks with MicroPython's ticks_ms semantics: values wrap at 2**30 and only ticks_diff /
# ticks_add may be used on them, so code that subtracts ticks directly breaks here as on a fob.
from protocol.const import const

TICKS_PERIOD = const(1 << 30)
_MASK = const((1 << 30) - 1)
_HALF = const(1 << 29)


def ticks_diff(a, b):
    return ((a - b + _HALF) & _MASK) - _HALF


def ticks_add(t, delta):
    return (t + delta) & _MASK


class VirtualClock:
    # Time moves only when the test says so. Starts just before the wrap by default, so every
    # test crosses it early.
    def __init__(self, start=TICKS_PERIOD - 5000):
        self._t = start & _MASK
        self.elapsed = 0  # ms since creation, for logs

    def ticks_ms(self):
        return self._t

    def advance(self, ms):
        self._t = (self._t + ms) & _MASK
        self.elapsed += ms

    ticks_diff = staticmethod(ticks_diff)
    ticks_add = staticmethod(ticks_add)


class RealClock:
    # Wall time for the runnable simulated fob (CPython), wrapped like the device's.
    def __init__(self):
        import time

        self._mono = time.monotonic

    def ticks_ms(self):
        return int(self._mono() * 1000) & _MASK

    ticks_diff = staticmethod(ticks_diff)
    ticks_add = staticmethod(ticks_add)
