# Fall detection on the accelerometer stream, one sample at a time, whichever way the fob is worn.
#
# Interface (the firmware and the SisFall evaluation both use exactly this):
#   d = FallDetector(rate_hz=50)
#   event = d.step(x_mg, y_mg, z_mg)   # integer milli-g, any fob axes; returns NONE, IMPACT or FALL
#   d.peak_mg                          # peak acceleration magnitude of the last judged impact, mg
#   d.reset()
#
# Method (docs/fall-detection.md has the figures and the reasons):
#   1. The input is block-averaged to a 25 Hz stream (2 samples at 50 Hz, 4 at 100 Hz), so the
#      detector sees the same signal at every sensor rate from 25 to 200 Hz.
#   2. Candidate: the acceleration magnitude reaches trigger_mg (1.3 g: a faint from a chair
#      may peak at not much more; 1.5 g left 5 of 900 SisFall falls without a candidate).
#      Returned as IMPACT. The candidate's peak is its largest sample in the next 0.6 s; a
#      later peak starts a candidate of its own (up to four at once), so a stumble does not
#      hide the fall that follows it.
#   3. Three seconds after the peak, features of the 3 s before and after it are computed from
#      a preallocated ring: peak, free fall, activity before, stillness after, and the angles
#      between gravity directions at different times. Every one is a magnitude or an angle
#      between two vectors in the fob's own frame, so a fixed mounting rotation changes none of
#      them (up to integer rounding): the detector needs no "up" and assumes no mounting.
#   4. A wearer still moving vigorously 2-3 s after the peak is walking on: not a fall.
#      Otherwise a boosted-tree model (firmware/fall_model.py, trained on the host by
#      bench/fall_train.py on rotated, clipped and resampled SisFall trials) scores the
#      features in integer arithmetic; above its cut the candidate is a FALL.
# FALL comes 3 s after the peak; the firmware then opens its 30 s "are you OK?" cancel window.
#
# Cost: per input sample 3 additions; per 25 Hz sample a square magnitude, three ring writes
# and a comparison, all small ints, no allocation. Judging a candidate (a few times a minute
# while running, never while still) takes ~150 integer square roots and the trees.
from array import array

from firmware import fall_model
from protocol.const import const

NONE = const(0)
IMPACT = const(1)
FALL = const(2)

TRIGGER_MG = const(1300)
BASE_HZ = const(25)  # internal stream rate the model was trained at
PRE_MS = const(3000)  # history before a candidate's peak used by the features (_TABLE's -15)
POST_MS = const(3000)  # and after it (+15): the FALL decision comes this long after the peak
_PEAK_MS = const(600)
_SLOTS = const(4)
MOVING_MG = const(150)  # still moving this much 2-3 s after the peak: walking on, not a fall
_FULL_SCALE = const(16000)  # +-16 g: clamping keeps every square in MicroPython's small ints
_MEAN_CLAMP = const(2000)  # mean vectors are gravity-sized; clamp so dot products stay small

# The features, in the order firmware/fall_model.py was trained on (bench/fall_train.FEATURES
# names them). Feature 0 is the candidate's peak magnitude; then one row each: a statistic of
# the magnitude over the window [a, b), or for COS the angle between the mean gravity vectors
# of [a, b) and [c, d). Offsets are in 0.2 s units from the peak, stored plus 64 in a byte:
# bytes, not a tuple, so the table costs 85 bytes and not a list of boxed ints.
_MEAN = const(0)  # mean magnitude, mg
_MIN = const(1)  # smallest magnitude, mg
_DEV = const(2)  # mean |magnitude - 1 g|, mg
_MAXDEV = const(3)  # largest |magnitude - 1 g|, mg
_MAD = const(4)  # mean absolute deviation of the magnitude from its own mean, mg
_ABOVE = const(5)  # samples above 1.3 g
_BELOW = const(6)  # samples below 0.7 g
_JERK = const(7)  # largest change of magnitude between two samples, mg
_COS = const(8)  # 1000 cos(angle) between the two windows' gravity directions
_TABLE = (
    b"\x01\x3b\x40\x40\x40"  # MIN     -5   0   0   0  fall_min_mg
    b"\x00\x3e\x40\x40\x40"  # MEAN    -2   0   0   0  fall_mean_mg
    b"\x04\x31\x3b\x40\x40"  # MAD    -15  -5   0   0  pre_mad_mg
    b"\x03\x31\x3b\x40\x40"  # MAXDEV -15  -5   0   0  pre_max_dev_mg
    b"\x04\x45\x4f\x40\x40"  # MAD      5  15   0   0  post_mad_mg
    b"\x03\x47\x4f\x40\x40"  # MAXDEV   7  15   0   0  post_max_dev_mg
    b"\x04\x4a\x4f\x40\x40"  # MAD     10  15   0   0  late_mad_mg
    b"\x02\x40\x45\x40\x40"  # DEV      0   5   0   0  impact_dev_mg
    b"\x08\x36\x3b\x4a\x4f"  # COS    -10  -5  10  15  turn_cos
    b"\x08\x36\x3b\x42\x47"  # COS    -10  -5   2   7  early_turn_cos
    b"\x08\x31\x36\x3b\x3e"  # COS    -15 -10  -5  -2  pre_turn_cos
    b"\x08\x45\x4a\x4a\x4f"  # COS      5  10  10  15  post_turn_cos
    b"\x07\x3e\x42\x40\x40"  # JERK    -2   2   0   0  jerk_mg
    b"\x05\x3b\x45\x40\x40"  # ABOVE   -5   5   0   0  high_n
    b"\x08\x3d\x3f\x41\x43"  # COS     -3  -1   1   3  quick_turn_cos
    b"\x04\x3b\x40\x40\x40"  # MAD     -5   0   0   0  fall_mad_mg
    b"\x06\x39\x40\x40\x40"  # BELOW   -7   0   0   0  low_n
)
N_FEATURES = const(18)
_LATE = const(7)  # late_mad_mg, the moving-on test


class FallDetector:
    def __init__(self, rate_hz=50, trigger_mg=TRIGGER_MG, model=None):
        if not 20 <= rate_hz <= 400:
            raise ValueError("rate_hz must be 20..400")
        k = rate_hz // BASE_HZ
        if k < 1:
            k = 1
        self._k = k
        r = rate_hz // k  # internal rate: 25 Hz for 25, 50, 100 and 200 Hz input
        self._r = r
        self._trig2 = trigger_mg * trigger_mg
        self._pre_n = PRE_MS * r // 1000
        self._post_n = POST_MS * r // 1000
        self._peak_n = _PEAK_MS * r // 1000
        n = self._pre_n + self._post_n + 1
        self._n = n
        # Preallocated ring of the internal stream (int16: |mg| <= 16000) and the magnitudes
        # filled in when a candidate is judged.
        # Filled from a range: on MicroPython that allocates exactly n items (from bytes or a
        # list it allocates about twice that). The contents are never read before written.
        # Magnitudes are not kept: judging recomputes the few hundred it needs.
        self._rx = array("h", range(n))
        self._ry = array("h", range(n))
        self._rz = array("h", range(n))
        # Pending candidates, oldest first: ring index of the peak, samples since the trigger
        # and since the peak, squared peak magnitude.
        self._at = [0] * _SLOTS
        self._age = [0] * _SLOTS
        self._since = [0] * _SLOTS
        self._peak2 = [0] * _SLOTS
        self.features = [0] * N_FEATURES
        self._model = model if model is not None else fall_model
        self.peak_mg = 0
        self.reset()

    def reset(self):
        self._head = 0
        self._filled = 0
        self._pending = 0
        self._bn = 0
        self._bx = self._by = self._bz = 0

    def step(self, x, y, z):
        self._bx += x
        self._by += y
        self._bz += z
        self._bn += 1
        if self._bn < self._k:
            return NONE
        k = self._k
        x = self._bx // k
        y = self._by // k
        z = self._bz // k
        self._bn = 0
        self._bx = self._by = self._bz = 0
        return self._sample(x, y, z)

    def _sample(self, x, y, z):
        if x > _FULL_SCALE:
            x = _FULL_SCALE
        elif x < -_FULL_SCALE:
            x = -_FULL_SCALE
        if y > _FULL_SCALE:
            y = _FULL_SCALE
        elif y < -_FULL_SCALE:
            y = -_FULL_SCALE
        if z > _FULL_SCALE:
            z = _FULL_SCALE
        elif z < -_FULL_SCALE:
            z = -_FULL_SCALE
        h = self._head
        self._rx[h] = x
        self._ry[h] = y
        self._rz[h] = z
        self._head = h + 1 if h + 1 < self._n else 0
        if self._filled < self._n:
            self._filled += 1
        m2 = x * x + y * y + z * z
        event = NONE
        p = self._pending
        if p:
            for i in range(p):
                self._age[i] += 1
                self._since[i] += 1
        if m2 >= self._trig2:
            event = IMPACT
            last = p - 1
            if p and self._age[last] < self._peak_n:
                if m2 > self._peak2[last]:
                    self._peak2[last] = m2
                    self._at[last] = h
                    self._since[last] = 0
            elif p < _SLOTS and self._filled > self._pre_n:
                self._at[p] = h
                self._age[p] = 0
                self._since[p] = 0
                self._peak2[p] = m2
                self._pending = p + 1
        if self._pending and self._since[0] >= self._post_n:
            if self._judge(self._at[0], self._peak2[0]):
                event = FALL
            self._pop()
        return event

    def _pop(self):
        p = self._pending - 1
        for i in range(p):
            self._at[i] = self._at[i + 1]
            self._age[i] = self._age[i + 1]
            self._since[i] = self._since[i + 1]
            self._peak2[i] = self._peak2[i + 1]
        self._pending = p

    def _judge(self, at, peak2):
        f = self.features
        f[0] = self.peak_mg = _isqrt(peak2, 1000)
        base = at + self._n  # ring index of the peak, plus n so every offset >= -n stays positive
        # The moving-on test first: walking and running make most candidates, and need no more.
        f[_LATE] = self._feature(_LATE, base)
        if f[_LATE] > MOVING_MG:
            return False
        for k in range(1, N_FEATURES):
            if k != _LATE:
                f[k] = self._feature(k, base)
        return self._classify()

    def _classify(self):
        return is_fall(self.features, self._model)

    def _feature(self, k, base):
        t = _TABLE
        u = self._r // 5  # samples per 0.2 s
        j = 5 * k - 5
        lo = base + (t[j + 1] - 64) * u
        hi = base + (t[j + 2] - 64) * u
        if t[j] == _COS:
            c = base + (t[j + 3] - 64) * u
            d = base + (t[j + 4] - 64) * u
            return _cos(self._rx, self._ry, self._rz, lo, hi, c, d, self._n)
        return self._statistic(lo, hi, t[j])

    def _statistic(self, a, b, kind):
        # One statistic of the magnitudes at ring positions [a, b) (taken modulo n); each
        # Newton square root is seeded with the previous sample's.
        n = self._n
        rx = self._rx
        ry = self._ry
        rz = self._rz
        level = 1000
        if kind == _MAD:
            level = self._statistic(a, b, _MEAN)
        elif kind == _ABOVE:
            level = 1300
        elif kind == _BELOW:
            level = 700
        acc = 65535 if kind == _MIN else 0
        i = (a - 1) % n
        prev = _isqrt(rx[i] * rx[i] + ry[i] * ry[i] + rz[i] * rz[i], 1000)
        for i in range(a, b):
            i %= n
            x = rx[i]
            y = ry[i]
            z = rz[i]
            v = _isqrt(x * x + y * y + z * z, prev)
            if kind == _MEAN:
                acc += v
            elif kind == _MIN:
                if v < acc:
                    acc = v
            elif kind == _ABOVE:
                if v > level:
                    acc += 1
            elif kind == _BELOW:
                if v < level:
                    acc += 1
            else:
                d = v - (prev if kind == _JERK else level)
                if d < 0:
                    d = -d
                if kind == _MAXDEV or kind == _JERK:
                    if d > acc:
                        acc = d
                else:
                    acc += d  # _DEV, _MAD
            prev = v
        if kind == _MEAN or kind == _DEV or kind == _MAD:
            return acc // (b - a)
        return acc


def is_fall(f, m):
    """The decision on one candidate's features f with model m."""
    return not moving_on(f) and score(f, m) > m.CUT


def moving_on(f):
    # A wearer still moving vigorously in the last second of the window (walking averages
    # 0.25-0.3 g) got up or never fell; 6 of 1,275 SisFall fall candidates are above this, and
    # the trees cannot learn it from SisFall, where nobody walks on after a 90 degree turn.
    return f[_LATE] > MOVING_MG


def score(f, m):
    """Integer sum of the model's trees for features f (firmware/fall_model.py's layout)."""
    feature = m.FEATURE
    threshold = m.THRESHOLD
    leaf = m.LEAF
    depth = m.DEPTH
    inner = (1 << depth) - 1
    s = m.BIAS
    for t in range(m.TREES):
        node = t * inner
        i = 0
        while i < inner:
            j = node + i
            v = threshold[2 * j] | (threshold[2 * j + 1] << 8)
            if v & 0x8000:
                v -= 0x10000
            i = 2 * i + 1 if f[feature[j]] <= v else 2 * i + 2
        v = leaf[t * (inner + 1) + i - inner]
        s += v - 256 if v & 0x80 else v
    return s


def _mean_axis(r, a, b, n):
    s = 0
    for i in range(a, b):
        s += r[i % n]
    d = b - a
    v = (2 * s + d) // (2 * d)  # rounded, not floored: a floor biases every axis the same way,
    if v > _MEAN_CLAMP:  # which a rotation would turn into a different angle
        v = _MEAN_CLAMP
    elif v < -_MEAN_CLAMP:
        v = -_MEAN_CLAMP
    return (v + 2) >> 2  # 4 mg units: every product below stays a small int


def _cos(rx, ry, rz, a, b, c, d, n):
    # 1000 * cos of the angle between the mean vectors of windows [a, b) and [c, d).
    ax = _mean_axis(rx, a, b, n)
    ay = _mean_axis(ry, a, b, n)
    az = _mean_axis(rz, a, b, n)
    bx = _mean_axis(rx, c, d, n)
    by = _mean_axis(ry, c, d, n)
    bz = _mean_axis(rz, c, d, n)
    na = _isqrt(ax * ax + ay * ay + az * az, 250)
    nb = _isqrt(bx * bx + by * by + bz * bz, 250)
    if na == 0 or nb == 0:
        return 1000
    return (ax * bx + ay * by + az * bz) * 1000 // (na * nb)


def _isqrt(v, guess):
    # Integer square root by Newton's method from above; a neighbour's root is a close guess.
    if v <= 0:
        return 0
    x = guess if guess > 0 else 1
    while x * x < v:
        x <<= 1
    y = (x + v // x) >> 1
    while y < x:
        x = y
        y = (x + v // x) >> 1
    return x
