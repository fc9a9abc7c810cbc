# Replaying a recording through the fob's fall detector in one call (host tests and the
# benchmark, on CPython or MicroPython). Not part of the fob image: hardware/sim/ never ships.
from firmware.fall_detector import NONE, FallDetector


def feed(samples, rate_hz=50, **kw):
    """Run a fresh detector over [(x, y, z), ...]; return [(index, event), ...] for non-NONE.

    One call per recording, so tests and the benchmark cross an interpreter boundary once.
    """
    d = FallDetector(rate_hz, **kw)
    out = []
    i = 0
    for s in samples:
        e = d.step(s[0], s[1], s[2])
        if e != NONE:
            out.append((i, e))
        i += 1
    return out
