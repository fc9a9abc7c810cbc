# Store and forward: every alarm is on flash before it is sent and stays there until the
# monitor's signed ACK for its counter arrives.
#
# One file per entry ("ob" + counter in hex), written once with write-then-rename and a CRC, so
# a power cut leaves the entry either whole or absent, never half. Frames are signed at send
# time, not here, so each resend carries its current age_s under the SAME counter (the monitor
# dedups by counter). Heartbeats live in RAM only and coalesce to the latest: a stale heartbeat
# after a reboot says nothing, and it would wear the flash every minute.
import binascii
import struct

from protocol import frame_types as ft
from protocol.const import const

_PREFIX = "ob"
_REC = ">BBIBHHH"  # type, flags, counter, n fields, 3 fields (age_s is added at send time)
_REC_LEN = const(17)  # the record and its CRC-32
_F_HELD = const(1)  # a fall inside its cancel window: on flash, not yet sendable
_F_OLD = const(2)  # raised before the current boot: age_s is only a lower bound
CAPACITY = const(32)
HARD_CAPACITY = const(64)  # alarms may use room beyond CAPACITY; never dropped below this
_BACKOFF_FIRST_MS = const(2000)  # a lost frame on a live link is retried quickly...
_BACKOFF_MAX_MS = const(60000)  # ...but a monitor that never acks is not hammered


class Entry:
    def __init__(self, ftype, counter, fields, raised_up_ms, now, flags=0):
        self.ftype = ftype
        self.counter = counter
        self.fields = fields  # body fields without the trailing age_s (heartbeats: all four)
        # Uptime (ms, never wraps) when raised; entries from before this boot get 0, the boot.
        self.raised = raised_up_ms
        self.flags = flags
        self.tries = 0
        self.next_try = now  # ticks_ms: short intervals only, so wrap-around is harmless
        self.prio = ft.priority(ftype)

    @property
    def held(self):
        return bool(self.flags & _F_HELD)

    @property
    def old(self):
        return bool(self.flags & _F_OLD)


def _name(counter):
    return "%s%08x" % (_PREFIX, counter)


def _pack(e):
    f = tuple(e.fields) + (0, 0, 0)
    raw = struct.pack(_REC, e.ftype, e.flags, e.counter, len(e.fields), f[0], f[1], f[2])
    return raw + struct.pack(">I", binascii.crc32(raw) & 0xFFFFFFFF)


def _unpack(raw, now):
    if raw is None or len(raw) != _REC_LEN:
        return None
    body = raw[:-4]
    if struct.unpack(">I", raw[-4:])[0] != binascii.crc32(body) & 0xFFFFFFFF:
        return None
    ftype, flags, counter, n, a, b, c = struct.unpack(_REC, body)
    if n > 3 or ft.layout(ftype) is None:
        return None
    # A fall held for its cancel window when the power went: the worker did not get to cancel,
    # so it is raised now. Whatever was raised before this boot has an unknown age.
    return Entry(ftype, counter, (a, b, c)[:n], 0, now, (flags & ~_F_HELD) | _F_OLD)


class Outbox:
    def __init__(self, store, clock, capacity=CAPACITY):
        self._store = store
        self._clock = clock
        self.capacity = capacity
        self.entries = []
        self.heartbeat = None
        self.dropped = 0  # entries dropped for room (heartbeats first), by design counted
        self.corrupt = 0
        self.flash_errors = 0
        now = clock.ticks_ms()
        store.clean(_PREFIX)
        for n in store.names(_PREFIX):
            e = _unpack(store.read(n), now)
            if e is None:
                self.corrupt += 1
                store.remove(n)
                continue
            self.entries.append(e)
        self._sort()

    def depth(self):
        return len(self.entries) + (1 if self.heartbeat is not None else 0)

    def full(self):
        return self.depth() >= self.capacity

    def _sort(self):
        self.entries.sort(key=lambda e: (e.prio, e.counter))

    def add(self, ftype, counter, fields, up_ms, held=False):
        # Returns True when the entry is stored (alarms: on flash) and will be sent.
        now = self._clock.ticks_ms()
        e = Entry(ftype, counter, fields, up_ms, now, _F_HELD if held else 0)
        if ftype == ft.HEARTBEAT:
            if self.heartbeat is None and self.full():
                self.dropped += 1
                return False
            self.heartbeat = e
            return True
        if self.full() and self.heartbeat is not None:
            self.heartbeat = None
            self.dropped += 1
        if self.full() and not ft.is_alarm(ftype):
            self.dropped += 1
            return False
        if len(self.entries) >= HARD_CAPACITY:
            victim = self.entries[-1]  # lowest priority, newest
            if victim.prio <= e.prio:
                self.dropped += 1
                return False
            self._forget(victim)
            self.dropped += 1
        self._persist(e)
        self.entries.append(e)
        self._sort()
        return True

    def _persist(self, e):
        try:
            self._store.write(_name(e.counter), _pack(e))
        except OSError:
            # Full or failing flash: the entry is still sent from RAM. Losing the alarm because
            # it could not also be saved would be the worse failure.
            self.flash_errors += 1

    def _forget(self, e):
        self.entries.remove(e)
        try:
            self._store.remove(_name(e.counter))
        except OSError:
            self.flash_errors += 1  # resent after a reboot at worst: the monitor dedups

    def find(self, counter):
        for e in self.entries:
            if e.counter == counter:
                return e
        if self.heartbeat is not None and self.heartbeat.counter == counter:
            return self.heartbeat
        return None

    def ack(self, counter):
        # The monitor stored it: forget it for good. Returns the entry, or None (already gone).
        e = self.find(counter)
        if e is None:
            return None
        if e is self.heartbeat:
            self.heartbeat = None
        else:
            self._forget(e)
        return e

    def release(self, counter):
        e = self.find(counter)
        if e is not None and e.held:
            e.flags &= ~_F_HELD
            self._persist(e)
            e.next_try = self._clock.ticks_ms()
        return e

    def discard(self, counter):
        e = self.find(counter)
        if e is not None and e is not self.heartbeat:
            self._forget(e)
        return e

    def due(self, now, limit=4):
        # Up to `limit` entries whose retry time has come, most urgent first.
        out = []
        diff = self._clock.ticks_diff
        for e in self.entries:
            if not e.held and diff(now, e.next_try) >= 0:
                out.append(e)
                if len(out) >= limit:
                    return out
        hb = self.heartbeat
        if hb is not None and diff(now, hb.next_try) >= 0:
            out.append(hb)
        return out

    def sent(self, e, now):
        delay = _BACKOFF_FIRST_MS << min(e.tries, 5)
        e.tries += 1
        e.next_try = self._clock.ticks_add(now, min(delay, _BACKOFF_MAX_MS))

    def retry_now(self, now):
        # The link came back: whatever waits goes out at once, not at its backed-off time.
        for e in self.entries:
            e.next_try = now
        if self.heartbeat is not None:
            self.heartbeat.next_try = now

    def wipe(self):
        for e in list(self.entries):
            self._forget(e)
        self.heartbeat = None
