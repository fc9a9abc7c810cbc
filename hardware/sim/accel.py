# An accelerometer that plays scripted motion or a recorded trace, in milli-g, like the fob's
# IMU driver returns (read() -> (x, y, z), OSError when the sensor is gone).
#
# What it reads when no trace is playing: brisk walking (`walking`), a wearer going about their
# work (`moving`: a few steps, standing, fidgeting; hardware/sim/wearer.py), or else `rest`
# exactly (a fob on a desk).
# A fall leaves the wearer lying still until told to move again.
from hardware.sim import scripted_fall, wearer
from protocol.const import const

_G = const(1000)


class SimAccel:
    def __init__(self, clock):
        self._clock = clock
        self._trace = None  # list of (x, y, z) at 50 Hz
        self._trace_at = 0
        self.failed = False
        self.walking = False
        self.moving = False
        self.rest = (0, 0, _G)

    def fail(self, failed=True):
        self.failed = failed

    def play(self, samples, rate_hz=50):
        # samples: sequence of (x, y, z) milli-g; resampled by index to the reader's time.
        self._trace = (samples, rate_hz)
        self._trace_at = self._clock.elapsed

    def fall(self):
        # The scripted fall (hardware/sim/scripted_fall.py): walking upright for 3 s, as the
        # detector's posture history needs, a trip towards free fall, a ~6.4 g impact, then
        # lying on the side, still, from then on.
        self.lie_after(scripted_fall.LYING)
        self.play(scripted_fall.samples(), scripted_fall.RATE_HZ)

    def lie_after(self, posture):
        # After the trace the wearer stays on the floor in `posture` until told otherwise.
        self.walking = False
        self.moving = False
        self.rest = posture

    def read(self):
        if self.failed:
            raise OSError(19)  # ENODEV: what a missing I2C device gives
        t = self._clock.elapsed
        if self._trace is not None:
            samples, rate = self._trace
            i = (t - self._trace_at) * rate // 1000
            if i < len(samples):
                x, y, z = samples[i]
                return int(x), int(y), int(z)
            self._trace = None
        if self.walking:
            # Brisk and coarse (a new reading every 100 ms): the virtual-time tests time the
            # no-motion timer from its last change, so it stays as they were written against.
            phase = (t // 100) % 6
            return (150 * phase - 400, 50, _G + (350 if phase < 3 else -350))
        if self.moving:
            return wearer.gentle(t)
        return self.rest
