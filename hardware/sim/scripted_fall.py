# A fall the simulated board can always replay (no data set needed): what the fob's MPU-6886 /
# MPU-6050 at its 50 Hz output rate and +-8 g full scale (hardware/mpu.py) would read, in
# integer milli-g on the fob's axes (+z up the body), for a wearer who trips while walking,
# falls sideways and lies still on the floor.
#
#   0    - 3000 ms  walking (hardware/sim/wearer.py): ~1 g with the gait's oscillation, upright;
#                   the fall detector needs >= 3 s of history before an impact
#   3000 - 3360 ms  falling: the reading drops towards free fall (~0.3 g; a trip is not a clean
#                   drop) while the trunk rotates from upright towards the side
#   3360 - 3440 ms  impact on the hip and shoulder: peaks at ~6.4 g (every axis inside +-8 g, so
#                   nothing clips), 4 samples, as SisFall's waist-worn falls peak at 3-8 g
#   3440 - 3800 ms  the body settles, a decaying wobble around the lying posture
#   3800 - 8000 ms  lying on the side, still: gravity on +x, only sensor noise
# The fob's fall detector (firmware/fall_detector.py) confirms it 3 s after the impact's peak,
# about 6.4 s after the trace starts (host_tests/firmware/test_fall_and_timers.py).
from hardware.sim import wearer
from protocol.const import const

RATE_HZ = const(50)
FALL_AT_MS = const(3000)
IMPACT_AT_MS = const(3360)
STILL_AT_MS = const(3800)
LENGTH_MS = const(8000)
LYING = (985, 120, -90)  # on the side, slightly rolled: |a| = 996 mg

# The impact, 20 ms per row: a ~6.4 g peak, mostly along +x (the floor pushes up the new
# vertical), some along z as the trunk was still rotating.
_IMPACT = (
    (2400, 500, 1700),
    (5600, -800, 2900),
    (3300, 600, 1100),
    (1900, -300, 500),
)
_ROTATE_Q = const(171)  # the trunk turns 60 degrees while falling (1024 = a full turn)


def sample(t):
    # The reading t ms into the trace.
    if t < FALL_AT_MS:
        return wearer.walk(t)
    if t < IMPACT_AT_MS:
        f = t - FALL_AT_MS
        span = IMPACT_AT_MS - FALL_AT_MS
        m = 1000 - 7 * f if f < 100 else 300 + 40 * wearer.sin_q(f * 1024 // 120) // 1000
        a = _ROTATE_Q * f // span
        return m * wearer.sin_q(a) // 1000, 40, m * wearer.sin_q(a + 256) // 1000
    if t < IMPACT_AT_MS + 20 * len(_IMPACT):
        return _IMPACT[(t - IMPACT_AT_MS) // 20]
    if t < STILL_AT_MS:
        f = t - IMPACT_AT_MS - 20 * len(_IMPACT)
        span = STILL_AT_MS - IMPACT_AT_MS - 20 * len(_IMPACT)
        amp = 450 * (span - f) // span
        w = amp * wearer.sin_q(f * 1024 // 100) // 1000  # 10 Hz wobble
        return LYING[0] + w, LYING[1] - w // 3, LYING[2] + w // 2
    return wearer.lying(t, LYING)


def samples(rate_hz=RATE_HZ):
    # The whole trace as a list of (x, y, z) at rate_hz.
    return [sample(i * 1000 // rate_hz) for i in range(LENGTH_MS * rate_hz // 1000)]
