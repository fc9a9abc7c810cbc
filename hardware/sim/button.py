# A push button with contact bounce: the level is a function of (virtual) time, scripted as
# presses, each bouncing for a few ms at both edges like a tactile switch on a scope.
class SimButton:
    def __init__(self, clock):
        self._clock = clock
        self._presses = []  # (start, end, bounce_ms, seed) in clock.elapsed ms
        self.held = False  # a press without scripted end (interactive "hold")

    def press(self, at_ms, duration_ms, bounce_ms=0, seed=0):
        self._presses.append((at_ms, at_ms + duration_ms, bounce_ms, seed))

    def clear_before(self, t):
        self._presses = [p for p in self._presses if p[1] + p[2] >= t]

    def __call__(self):
        t = self._clock.elapsed
        if self.held:
            return True
        for start, end, bounce, seed in self._presses:
            if start <= t < end + bounce:
                if bounce and (t < start + bounce or t >= end):
                    # Chatter: a deterministic pseudo-random level while the contacts settle.
                    x = (t * 1103515245 + seed * 12345 + 7) & 0x7FFFFFFF
                    return bool((x >> 16) & 1)
                return t < end
        return False
