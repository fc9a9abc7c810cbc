# Receiver-side replay protection: the highest counter seen plus a 64-frame sliding bitmap.
#
# Several gateways may relay the same frame late and out of order; each counter is accepted once.
# Counters more than WINDOW behind the highest are refused as stale: we cannot tell a replay
# from a very late frame there, and a fob's outbox resends within the window in practice.
from protocol.errors import Replayed, Stale

WINDOW = 64
_MASK = (1 << WINDOW) - 1


class ReplayWindow:
    # State is two ints, (highest, bitmap), so the monitor can persist it in the same
    # transaction as the event it accepted. Bit i of bitmap set = counter highest - i seen.
    def __init__(self, highest=-1, bitmap=0):
        self.highest = highest
        self.bitmap = bitmap

    def check(self, counter):
        if counter > self.highest:
            return
        offset = self.highest - counter
        if offset >= WINDOW:
            raise Stale("counter %d is behind the window (highest %d)" % (counter, self.highest))
        if (self.bitmap >> offset) & 1:
            raise Replayed("counter %d already accepted" % counter)

    def accept(self, counter):
        self.check(counter)
        if counter > self.highest:
            shift = counter - self.highest
            self.bitmap = ((self.bitmap << shift) | 1) & _MASK if shift < WINDOW else 1
            self.highest = counter
        else:
            self.bitmap |= 1 << (self.highest - counter)

    def state(self):
        return self.highest, self.bitmap
