# Fall detection on the accelerometer stream, one sample at a time.
#
# Interface (the firmware and the SisFall evaluation both use exactly this):
#   d = FallDetector(rate_hz=50)
#   event = d.step(x_mg, y_mg, z_mg)   # integer milli-g, fob axes; returns NONE, IMPACT or FALL
#   d.peak_mg                          # peak acceleration magnitude of the last impact, milli-g
#   d.reset()
# Integer arithmetic only: on the ESP32 port every float is a heap object, and this runs 50
# times a second for the life of the battery.
#
# Baseline method (to be improved and evaluated in bench/fall_eval.py): an impact is a
# magnitude above IMPACT_MG; a fall is confirmed if the wearer is then still (magnitude close to
# 1 g) for STILL_MS within CONFIRM_MS of the impact.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


NONE = const(0)
IMPACT = const(1)
FALL = const(2)

IMPACT_MG = const(2500)
STILL_TOLERANCE_MG = const(250)
STILL_MS = const(1000)
CONFIRM_MS = const(4000)
_G = const(1000)


class FallDetector:
    def __init__(self, rate_hz=50):
        self._dt_ms = 1000 // rate_hz
        self._impact2 = IMPACT_MG * IMPACT_MG
        self._lo2 = (_G - STILL_TOLERANCE_MG) * (_G - STILL_TOLERANCE_MG)
        self._hi2 = (_G + STILL_TOLERANCE_MG) * (_G + STILL_TOLERANCE_MG)
        self.peak_mg = 0
        self.reset()

    def reset(self):
        self._since_impact_ms = -1  # -1: no impact pending
        self._still_ms = 0
        self._peak2 = 0

    def step(self, x, y, z):
        m2 = x * x + y * y + z * z
        if m2 >= self._impact2:
            if self._since_impact_ms < 0 or m2 > self._peak2:
                self._peak2 = m2
            self._since_impact_ms = 0
            self._still_ms = 0
            return IMPACT
        if self._since_impact_ms < 0:
            return NONE
        self._since_impact_ms += self._dt_ms
        if self._lo2 <= m2 <= self._hi2:
            self._still_ms += self._dt_ms
        else:
            self._still_ms = 0
        if self._still_ms >= STILL_MS:
            self.peak_mg = _isqrt(self._peak2)
            self.reset()
            return FALL
        if self._since_impact_ms > CONFIRM_MS:
            self.reset()
        return NONE


def _isqrt(n):
    # Integer square root (Newton), so reporting the peak needs no float.
    if n <= 0:
        return 0
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x
