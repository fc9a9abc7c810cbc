# Signed 20-byte frames.
#
#   offset 0   version (3 bits) | type (5 bits)
#          1   device id, 24 bits big-endian (16.7 M fobs per deployment)
#          4   counter, 32 bits big-endian, never reused by a device in one direction
#          8   body, 4 bytes, layout by type (see frame_types)
#         12   tag: first 8 bytes of HMAC-SHA256(key, direction byte | bytes 0..11)
import struct

from protocol import tag
from protocol.const import const
from protocol.errors import BadLength, BadTag, BadValue, UnknownType, WrongDirection
from protocol.frame_types import (
    AGE_LOWER_BOUND,
    ALARM_BODY,
    CANCEL_BODY,
    CHECKIN_BODY,
    CHECKIN_START,
    HEARTBEAT_BODY,
    NAMES,
    VERSION,
    direction,
    layout,
)

HEADER_LEN = const(8)
BODY_LEN = const(4)
SIGNED_LEN = const(12)
FRAME_LEN = const(20)
MAX_DEVICE_ID = const(0xFFFFFF)
MAX_COUNTER = 0xFFFFFFFF  # not const(): above MicroPython's small-int range
_LIMITS = {"B": 0xFF, "H": 0xFFFF, "I": 0xFFFFFFFF}


class Frame:
    # A verified frame. fields is the tuple unpacked from the body per frame_types.layout().
    def __init__(self, ftype, device_id, counter, fields):
        self.ftype = ftype
        self.device_id = device_id
        self.counter = counter
        self.fields = fields

    @property
    def name(self):
        return NAMES.get(self.ftype, "unknown")

    def as_dict(self):
        # Named fields for logs, JSON and the monitor; the wire stays integers.
        fmt = layout(self.ftype)
        f = self.fields
        d = {"type": self.name, "device_id": self.device_id, "counter": self.counter}
        if fmt == ALARM_BODY:
            d["battery_pct"] = f[0] & 0x7F
            d["age_lower_bound"] = bool(f[0] & AGE_LOWER_BOUND)
            d["detail"] = f[1]
            d["age_s"] = f[2]
        elif fmt == CANCEL_BODY and self.ftype != CHECKIN_START:
            d["cancels_counter"] = self.counter - f[0]
            d["age_s"] = f[1]
        elif fmt == CHECKIN_BODY:
            d["duration_min"] = f[0]
            d["age_s"] = f[1]
        elif fmt == HEARTBEAT_BODY:
            d["battery_pct"] = f[0]
            d["flags"] = f[1]
            d["outbox_depth"] = f[2]
            d["uptime_h"] = f[3]
        elif len(f) == 1:
            d["acked_counter"] = f[0]
        else:
            d["command"] = f[0]
            d["argument"] = f[1]
            d["value"] = f[2]
        return d

    def __eq__(self, other):
        return (
            isinstance(other, Frame)
            and self.ftype == other.ftype
            and self.device_id == other.device_id
            and self.counter == other.counter
            and tuple(self.fields) == tuple(other.fields)
        )

    def __repr__(self):
        return "Frame(%s dev=%d ctr=%d %r)" % (self.name, self.device_id, self.counter, self.fields)


def _check_fields(fmt, fields):
    # MicroPython's struct silently truncates out-of-range values; refuse them on both.
    codes = fmt[1:]
    if len(fields) != len(codes):
        raise BadValue("body needs %d fields" % len(codes))
    for i in range(len(codes)):
        v = fields[i]
        if v < 0 or v > _LIMITS[codes[i]]:
            raise BadValue("field %d out of range" % i)


class Encoder:
    # Encodes one device's frames into a buffer allocated once: the fob's alarm path does not
    # grow the heap apart from the hash objects hashlib itself creates.
    def __init__(self, device_id, key):
        if device_id < 0 or device_id > MAX_DEVICE_ID:
            raise BadValue("device id must fit 24 bits")
        self.device_id = device_id
        self._key = key
        self._buf = bytearray(FRAME_LEN)
        self._mv = memoryview(self._buf)

    def encode(self, ftype, counter, fields):
        # Returns a memoryview of the internal buffer: copy it (bytes(...)) before the next call
        # if it must outlive it.
        fmt = layout(ftype)
        if fmt is None:
            raise UnknownType("type 0x%02x has no signed layout" % ftype)
        if counter < 0 or counter > MAX_COUNTER:
            raise BadValue("counter must fit 32 bits")
        _check_fields(fmt, fields)
        buf = self._buf
        struct.pack_into(">II", buf, 0, ((VERSION << 5 | ftype) << 24) | self.device_id, counter)
        struct.pack_into(fmt, buf, HEADER_LEN, *fields)
        self._mv[SIGNED_LEN:] = tag.compute(self._key, direction(ftype), self._mv[:SIGNED_LEN])
        return self._mv


def encode(ftype, device_id, counter, fields, key):
    return bytes(Encoder(device_id, key).encode(ftype, counter, fields))


def peek(data):
    # Parse the header without verifying: (type, device id, counter). Used to look up the key.
    if len(data) != FRAME_LEN:
        raise BadLength("frame is %d bytes, expected %d" % (len(data), FRAME_LEN))
    vt = data[0]
    if vt >> 5 != VERSION:
        raise UnknownType("protocol version %d not supported" % (vt >> 5))
    ftype = vt & 0x1F
    if layout(ftype) is None:
        raise UnknownType("unknown frame type 0x%02x" % ftype)
    word, counter = struct.unpack_from(">II", data, 0)
    return ftype, word & MAX_DEVICE_ID, counter


def decode(data, key, expect=None):
    # Verify and unpack. expect: frame_types.UPLINK or DOWNLINK, to refuse the other direction.
    ftype, device_id, counter = peek(data)
    d = direction(ftype)
    if expect is not None and d != expect:
        raise WrongDirection("%s frame where the other direction was expected" % NAMES[ftype])
    mv = memoryview(data)
    if not tag.equal(tag.compute(key, d, mv[:SIGNED_LEN]), bytes(mv[SIGNED_LEN:])):
        raise BadTag("tag does not verify for device %d" % device_id)
    return Frame(ftype, device_id, counter, struct.unpack_from(layout(ftype), data, HEADER_LEN))
