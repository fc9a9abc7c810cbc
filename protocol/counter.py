# Counters for the fob's own frames, reserved in blocks on flash before use.
#
# A reboot must never reuse a counter (the monitor would refuse the frame as a replay, losing an
# alarm), yet flash wears: so we write the *limit* of a block and hand out counters below it from
# RAM. After a reboot we start at the stored limit, skipping whatever was left of the old block.
# Two slot files are written alternately, each with a CRC: a power cut mid-write leaves the other
# slot, whose older limit is still above every counter used (we write before we use).
import binascii
import struct

from protocol.errors import BadValue

BLOCK = 64
_MAX = 0xFFFFFFFF


def _read_slot(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return -1
    if len(raw) != 8:
        return -1
    limit, crc = struct.unpack(">II", raw)
    if binascii.crc32(raw[:4]) & 0xFFFFFFFF != crc:
        return -1
    return limit


class CounterStore:
    def __init__(self, path, block=BLOCK):
        self._slots = (path + ".a", path + ".b")
        self._block = block
        a = _read_slot(self._slots[0])
        b = _read_slot(self._slots[1])
        limit = max(a, b, 0)
        # Write next to the older slot so the newest valid limit survives a torn write.
        self._slot = 0 if a <= b else 1
        self._next = limit
        self._limit = limit
        self.writes = 0

    def _write(self, limit):
        data = struct.pack(">I", limit)
        data += struct.pack(">I", binascii.crc32(data) & 0xFFFFFFFF)
        with open(self._slots[self._slot], "wb") as f:
            f.write(data)
        self._slot ^= 1
        self.writes += 1

    def next(self):
        if self._next >= self._limit:
            limit = self._next + self._block
            if limit > _MAX + 1:
                raise BadValue("counter space exhausted: re-provision the fob with a new key")
            self._write(limit)
            self._limit = limit
        c = self._next
        self._next += 1
        return c

    def peek(self):
        return self._next
