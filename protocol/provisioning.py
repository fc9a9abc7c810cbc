# Provisioning messages: serial only, unsigned (a fresh fob has no key yet), may be long.
#
#   offset 0   version (3 bits) | type (5 bits), type in 0x18-0x1F
#          1   TLV records: tag (u8), length (u8), value
#
# Physical access to the USB port is the trust anchor; the fob refuses these over BLE. The key
# goes in (PROV_SET) and never comes out: PROV_INFO carries no key record.
from protocol.const import const
from protocol.errors import BadLength, BadValue, UnknownType
from protocol.frame_types import VERSION

T_DEVICE_ID = const(1)  # u32 (24 bits used)
T_KEY = const(2)  # 16 or 32 bytes
T_HEARTBEAT_S = const(3)
T_FIRMWARE = const(4)  # text
T_BOARD = const(5)  # text
T_PROVISIONED = const(6)  # 0/1
T_RESULT = const(7)  # result code, below
T_MESSAGE = const(8)  # text for a human
T_BATTERY_PCT = const(9)
T_OUTBOX = const(10)
T_MEM_FREE = const(11)
T_SENSOR_OK = const(12)
T_UPTIME_S = const(13)
T_NO_MOTION_S = const(14)
T_SOS_HOLD_MS = const(15)
T_FORCE = const(16)
T_COUNTER = const(17)
T_COVERT = const(18)
T_TEST_FRAME = const(19)  # a signed TEST frame, sent back to prove the key
T_CHECKIN_ACTIVE = const(20)
T_FALL_CANCEL_S = const(21)

R_OK = const(0)
R_ALREADY_PROVISIONED = const(1)
R_BAD_REQUEST = const(2)
R_NOT_PROVISIONED = const(3)

_TEXT = (T_FIRMWARE, T_BOARD, T_MESSAGE)
_RAW = (T_KEY, T_TEST_FRAME)
MAX_VALUE = 200


def encode(ptype, records):
    # records: dict tag -> int, str or bytes. Ints go as u32 big-endian.
    if ptype < 0x18 or ptype > 0x1F:
        raise UnknownType("0x%02x is not a provisioning type" % ptype)
    out = bytearray([(VERSION << 5) | ptype])
    for t in sorted(records):
        v = records[t]
        if isinstance(v, str):
            v = v.encode()
        elif isinstance(v, int):
            if v < 0 or v > 0xFFFFFFFF:
                raise BadValue("record %d out of range" % t)
            v = v.to_bytes(4, "big")
        if len(v) > MAX_VALUE:
            raise BadValue("record %d too long" % t)
        out.append(t)
        out.append(len(v))
        out.extend(v)
    return bytes(out)


def decode(data):
    # -> (ptype, {tag: int | str | bytes}). Unknown tags are kept as bytes (newer peers).
    if len(data) < 1:
        raise BadLength("empty provisioning message")
    vt = data[0]
    if vt >> 5 != VERSION or (vt & 0x1F) < 0x18:
        raise UnknownType("not a provisioning message")
    records = {}
    i = 1
    n = len(data)
    while i < n:
        if i + 2 > n:
            raise BadLength("truncated record header")
        t = data[i]
        ln = data[i + 1]
        if i + 2 + ln > n:
            raise BadLength("truncated record %d" % t)
        v = bytes(data[i + 2 : i + 2 + ln])
        i += 2 + ln
        if t in _TEXT:
            try:
                v = v.decode()
            except UnicodeError:
                raise BadValue("record %d is not UTF-8" % t)
        elif t not in _RAW and ln == 4:
            v = int.from_bytes(v, "big")
        records[t] = v
    return vt & 0x1F, records
