# A battery that drains with time (and can be set), read as percent like the ADC driver returns.
class SimBattery:
    def __init__(self, clock, pct=100, drain_pct_per_hour=0):
        self._clock = clock
        self._pct = pct
        self._at = clock.elapsed
        self.drain = drain_pct_per_hour

    def set(self, pct):
        self._pct = pct
        self._at = self._clock.elapsed

    def __call__(self):
        used = (self._clock.elapsed - self._at) * self.drain // 3600000
        return max(0, self._pct - used)
