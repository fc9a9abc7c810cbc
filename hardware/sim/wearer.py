# What an accelerometer worn at the waist reads while its wearer goes about their work: integer
# milli-g on the fob's axes (+z up the body, +x forward, +y to the wearer's left; see
# hardware/sisfall.py), as functions of time in ms, so a reader at any rate samples them as it
# would a real sensor.
#
# Figures (waist-worn walking trials such as SisFall D01-D04, and the MPU-6050/6886 datasheets):
# - walking at ~1.8 steps/s: vertical 0.75-1.5 g with a heel-strike peak each step, +-0.15 g fore
#   and aft at step frequency, +-0.08 g side to side at stride frequency (half of it);
# - standing at a desk or counter: postural sway of a few tens of mg, and now and then a lean,
#   reach or turn that tilts the trunk ~15 degrees and shakes it at a few Hz for about a second;
# - sensor noise: 400 ug/sqrt(Hz) over the ~44 Hz filter band is ~4 mg rms per axis.
# Nothing here reaches the fall detector's 2.2 g impact threshold; every step and every fidget
# changes the reading by more than the firmware's per-sample motion threshold (120 mg), as a
# moving wearer does, so the no-motion timer restarts as it would on a worn fob.
from protocol.const import const

_G = const(1000)
_STEP_MS = const(560)  # ~1.8 steps per second
_HEEL_Q = const(74)  # heel strike: the first 40 ms of a step, in 1/1024 of a step
_CYCLE_MS = const(30000)  # gentle(): a few steps, then standing for the rest of the cycle
_WALK_MS = const(6000)
_FIDGET_EVERY_MS = const(8000)  # standing: a lean or a reach this often...
_FIDGET_MS = const(1200)  # ...lasting this long
_NOISE_MG = const(4)

# 1000 * sin(2 pi k / 64): integer sines, no float or math module needed.
_SIN64 = (
    0, 98, 195, 290, 383, 471, 556, 634, 707, 773, 831, 882, 924, 957, 981, 995,
    1000, 995, 981, 957, 924, 882, 831, 773, 707, 634, 556, 471, 383, 290, 195, 98,
    0, -98, -195, -290, -383, -471, -556, -634, -707, -773, -831, -882, -924, -957, -981, -995,
    -1000, -995, -981, -957, -924, -882, -831, -773, -707, -634, -556, -471, -383, -290, -195, -98,
)  # fmt: skip


def sin_q(phase):
    # 1000 * sin(2 pi phase / 1024), linearly interpolated in the 64-entry table.
    phase &= 1023
    k = phase >> 4
    a = _SIN64[k]
    b = _SIN64[(k + 1) & 63]
    return a + (b - a) * (phase & 15) // 16


def _cycle(t, period):
    # Phase of t within a period, in 1/1024; small ints only (t % period first).
    return (t % period) * 1024 // period


def noise(t, axis):
    # Deterministic sensor noise in [-_NOISE_MG, _NOISE_MG], one value per 20 ms sample and
    # axis: a small integer hash, every product below 2**30 (MicroPython's small ints).
    h = ((t // 20) * 5179 + axis * 1237) & 0xFFFF
    h = ((h * 6971) ^ (h >> 5)) & 0xFFFF
    return (h >> 4) % (2 * _NOISE_MG + 1) - _NOISE_MG


def walk(t):
    p = _cycle(t, _STEP_MS)
    z = _G + 250 * sin_q(p) // 1000
    if p < _HEEL_Q:
        z += 400 * sin_q(p * 512 // _HEEL_Q) // 1000
    x = 150 * sin_q(p + 256) // 1000
    y = 80 * sin_q(_cycle(t, 2 * _STEP_MS)) // 1000
    return x + noise(t, 0), y + noise(t, 1), z + noise(t, 2)


def stand(t):
    # Upright, swaying, with a lean or reach every _FIDGET_EVERY_MS.
    x = 20 * sin_q(_cycle(t, 3300)) // 1000
    y = 15 * sin_q(_cycle(t, 4100)) // 1000
    z = _G
    f = t % _FIDGET_EVERY_MS - (_FIDGET_EVERY_MS - _FIDGET_MS)
    if f >= 0:
        lean = sin_q(f * 512 // _FIDGET_MS)  # 0 -> 1000 -> 0 over the fidget
        shake = sin_q(_cycle(f, 250))  # 4 Hz
        x += 260 * lean // 1000 + 120 * shake // 1000
        y += 150 * sin_q(_cycle(f, 250) + 256) // 1000
        z -= 35 * lean // 1000  # the trunk tilts ~15 degrees: cos 15 = 0.966
    return x + noise(t, 0), y + noise(t, 1), z + noise(t, 2)


def gentle(t):
    # Going about their work: a few steps every half minute, standing and fidgeting between.
    if t % _CYCLE_MS < _WALK_MS:
        return walk(t)
    return stand(t)


def lying(t, rest):
    # Lying still in the posture `rest`: only the sensor's noise moves.
    return rest[0] + noise(t, 0), rest[1] + noise(t, 1), rest[2] + noise(t, 2)
