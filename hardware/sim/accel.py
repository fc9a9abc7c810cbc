# An accelerometer that plays scripted motion or a recorded trace, in milli-g, like the fob's
# IMU driver returns (read() -> (x, y, z), OSError when the sensor is gone).
from protocol.const import const

_G = const(1000)


class SimAccel:
    def __init__(self, clock):
        self._clock = clock
        self._trace = None  # list of (x, y, z) at 50 Hz
        self._trace_at = 0
        self.failed = False
        self.walking = False
        self.rest = (0, 0, _G)

    def fail(self, failed=True):
        self.failed = failed

    def play(self, samples, rate_hz=50):
        # samples: sequence of (x, y, z) milli-g; resampled by index to the reader's time.
        self._trace = (samples, rate_hz)
        self._trace_at = self._clock.elapsed

    def fall(self):
        # Scripted fall: upright (z up the body) for 2.5 s, as a detector's posture history
        # needs, a stumble, a 3.5 g impact, then lying on the side, still.
        s = []
        for i in range(125):
            s.append((20 if i % 4 < 2 else -20, 10, _G + (40 if i % 6 < 3 else -40)))
        for i in range(25):
            s.append((200 if i % 10 < 5 else -200, 0, _G + (300 if i % 5 < 2 else -300)))
        s += [(0, 0, 3500), (1800, 0, 2500), (600, 200, 1500)]
        self.rest = (_G, 0, 0)
        self.play(s)

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
            phase = (t // 100) % 6
            return (150 * phase - 400, 50, _G + (350 if phase < 3 else -350))
        return self.rest
