# Fall detection on the accelerometer stream, one sample at a time.
#
# Interface (the firmware and the SisFall evaluation both use exactly this):
#   d = FallDetector(rate_hz=50)
#   event = d.step(x_mg, y_mg, z_mg)   # integer milli-g, fob axes; returns NONE, IMPACT or FALL
#   d.peak_mg                          # peak acceleration magnitude of the last impact, milli-g
#   d.reset()
# Thresholds are keyword arguments with the defaults chosen by subject-wise cross-validation on
# SisFall (bench/fall_eval.py, docs/fall-detection.md).
#
# Integer arithmetic only: on the ESP32 port every float is a heap object, and this runs 50
# times a second for the life of the battery. Squared magnitudes are compared with squared
# thresholds, so no square root is taken per sample. Every per-sample value stays inside
# MicroPython's 31-bit small-int range (|axis| <= 16000 mg gives a squared magnitude < 2**30),
# so the hot path allocates nothing.
#
# Method (after the impact + posture + stillness family of detectors, e.g. Bourke et al. 2007,
# Kangas et al. 2008, and the SisFall paper's threshold features):
#   1. Posture history: block sums of 0.2 s of samples go into a 2 s ring, so the wearer's
#      orientation before an impact is known without storing raw samples.
#   2. Impact: magnitude of the acceleration vector >= impact_mg. Reported as IMPACT.
#   3. Stillness: within confirm_ms of the last impact, the magnitude stays within
#      still_mg of 1 g for still_ms (lying on the floor, not walking on after a stumble).
#   4. Orientation change: the gravity direction during that stillness differs from the one
#      1-2 s before the impact by at least angle_deg (the trunk went from upright to lying).
#      Lying down on purpose changes orientation too, but without a hard impact.
#   5. Lying after: the trunk during the stillness is at least flat_deg from vertical, or turned
#      at least flat_deg from its posture before (so a hard sit into a low chair, which reclines
#      the trunk 40-55 degrees, is not a fall).
#   6. Not already lying: if the fob's z axis (up the body, see hardware/sisfall.py) was tilted
#      lying_deg or more before the impact, the wearer was lying already; turning over in bed
#      changes orientation and can jolt, but is not a fall.
# FALL is returned at the end of the still period, so the delay after impact is the time to
# become still plus still_ms.
from protocol.const import const

NONE = const(0)
IMPACT = const(1)
FALL = const(2)

IMPACT_MG = const(2200)
STILL_TOLERANCE_MG = const(250)
STILL_MS = const(1000)
CONFIRM_MS = const(4000)
ANGLE_DEG = const(40)
LYING_DEG = const(80)
FLAT_DEG = const(65)
_G = const(1000)
_BLOCK_MS = const(200)  # posture history resolution
_PRE_FAR_MS = const(2000)  # posture before the impact is the mean over [-2 s, -1 s]
_PRE_NEAR_MS = const(1000)
_IDLE = const(0)
_WATCH = const(1)

# cos^2 of the angle threshold in 1/1024 units, for angles 0..90 in 5 degree steps: the
# orientation test compares dot^2 * 1024 with cos2 * |a|^2 * |b|^2 and needs no float or trig.
_COS2_Q10 = (
    1024,
    1016,
    993,
    955,
    904,
    841,
    768,
    687,
    601,
    512,
    423,
    337,
    256,
    183,
    120,
    69,
    31,
    8,
    0,
)


class FallDetector:
    def __init__(
        self,
        rate_hz=50,
        impact_mg=IMPACT_MG,
        still_mg=STILL_TOLERANCE_MG,
        still_ms=STILL_MS,
        confirm_ms=CONFIRM_MS,
        angle_deg=ANGLE_DEG,
        lying_deg=LYING_DEG,
        flat_deg=FLAT_DEG,
    ):
        for deg in (angle_deg, lying_deg, flat_deg):
            if not 0 <= deg <= 90 or deg % 5:
                raise ValueError("angles must be multiples of 5 degrees in 0..90")
        self._impact2 = impact_mg * impact_mg
        self._lo2 = (_G - still_mg) * (_G - still_mg)
        self._hi2 = (_G + still_mg) * (_G + still_mg)
        self._still_n = max(1, still_ms * rate_hz // 1000)
        self._confirm_n = confirm_ms * rate_hz // 1000
        self._cos2 = _COS2_Q10[angle_deg // 5]
        self._lying_cos2 = _COS2_Q10[lying_deg // 5]
        self._flat_cos2 = _COS2_Q10[flat_deg // 5]
        self._block_n = max(1, _BLOCK_MS * rate_hz // 1000)
        nblocks = _PRE_FAR_MS // _BLOCK_MS
        self._pre_blocks = (_PRE_FAR_MS - _PRE_NEAR_MS) // _BLOCK_MS
        # Preallocated posture ring: x, y, z block sums interleaved.
        self._ring = [0] * (3 * nblocks)
        self._nblocks = nblocks
        self.peak_mg = 0
        self.reset()

    def reset(self):
        for i in range(len(self._ring)):
            self._ring[i] = 0
        self._head = 0  # next block slot to write; the oldest block lives there too
        self._filled = 0  # blocks written since reset, capped at the ring size
        self._bn = 0
        self._bx = self._by = self._bz = 0
        self._state = _IDLE
        self._since = 0
        self._still = 0
        self._sx = self._sy = self._sz = 0
        self._px = self._py = self._pz = 0
        self._peak2 = 0

    def step(self, x, y, z):
        # Posture history: 3 additions per sample, one ring write per block.
        self._bx += x
        self._by += y
        self._bz += z
        self._bn += 1
        if self._bn == self._block_n:
            r = self._ring
            h = 3 * self._head
            r[h] = self._bx
            r[h + 1] = self._by
            r[h + 2] = self._bz
            self._head = (self._head + 1) % self._nblocks
            if self._filled < self._nblocks:
                self._filled += 1
            self._bn = 0
            self._bx = self._by = self._bz = 0

        m2 = x * x + y * y + z * z
        if m2 >= self._impact2:
            if self._state == _IDLE:
                if self._filled < self._nblocks:
                    return IMPACT  # no posture history yet (just booted): cannot judge
                self._start_watch()
                self._peak2 = m2
            elif m2 > self._peak2:
                self._peak2 = m2
            self._since = 0
            self._still = 0
            self._sx = self._sy = self._sz = 0
            return IMPACT
        if self._state == _IDLE:
            return NONE

        self._since += 1
        if self._lo2 <= m2 <= self._hi2:
            self._still += 1
            self._sx += x
            self._sy += y
            self._sz += z
        else:
            self._still = 0
            self._sx = self._sy = self._sz = 0
        if self._still >= self._still_n:
            self._state = _IDLE
            if self._turned():
                self.peak_mg = _isqrt(self._peak2)
                return FALL
            return NONE
        if self._since > self._confirm_n:
            self._state = _IDLE
        return NONE

    def _start_watch(self):
        # Pre-impact posture: the oldest _pre_blocks blocks of the ring ([-2 s, -1 s]).
        r = self._ring
        px = py = pz = 0
        i = self._head
        for _ in range(self._pre_blocks):
            h = 3 * i
            px += r[h]
            py += r[h + 1]
            pz += r[h + 2]
            i = (i + 1) % self._nblocks
        self._px = px
        self._py = py
        self._pz = pz
        self._state = _WATCH
        self._since = 0

    def _turned(self):
        # All angle tests compare squared cosines: angle >= t  <=>  dot <= 0 or
        # dot^2 * 1024 <= cos2(t) * |a|^2 * |b|^2. Mean vectors in 32 mg units keep the products
        # near MicroPython's small-int range; this runs once per impact, not per sample.
        n = self._pre_blocks * self._block_n
        ax = (self._px // n) >> 5
        ay = (self._py // n) >> 5
        az = (self._pz // n) >> 5
        n = self._still_n
        bx = (self._sx // n) >> 5
        by = (self._sy // n) >> 5
        bz = (self._sz // n) >> 5
        a2 = ax * ax + ay * ay + az * az
        b2 = bx * bx + by * by + bz * bz
        if _at_least(az, a2, self._lying_cos2):
            return False  # fob z was already tilted >= lying_deg: turning over in bed
        dot = ax * bx + ay * by + az * bz
        if not _at_least(dot, a2 * b2, self._cos2):
            return False  # trunk orientation barely changed: still upright
        # Reclining into a low chair turns the trunk 40-55 degrees and leaves it 50-60 degrees
        # from vertical; after a fall the trunk is near horizontal or turned further.
        return _at_least(bz, b2, self._flat_cos2) or _at_least(dot, a2 * b2, self._flat_cos2)


def _at_least(dot, norms2, cos2):
    # True if the angle whose cosine is dot / sqrt(norms2) is >= the angle with cos^2 = cos2/1024
    # (angles up to 90 degrees).
    return dot <= 0 or dot * dot * 1024 <= cos2 * norms2


def feed(samples, **thresholds):
    """Run a fresh detector over [(x, y, z), ...]; return [(index, event), ...] for non-NONE.

    One call per recording, so tests and the benchmark cross an interpreter boundary once.
    """
    d = FallDetector(**thresholds)
    out = []
    i = 0
    for s in samples:
        e = d.step(s[0], s[1], s[2])
        if e != NONE:
            out.append((i, e))
        i += 1
    return out


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
