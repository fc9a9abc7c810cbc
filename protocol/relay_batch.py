# The packed batch a relay posts to the monitor (POST /v1/frames/binary) and the packed answer.
#
# JSON costs the monitor more than verifying the frames does: a hex string, an ISO time and a
# pydantic model per frame. Here a frame is its 20 signed bytes plus a 6-byte header, read with
# one struct call. Big-endian, like the frames. docs/monitor.md ("Binary ingest") has the layout.
#
#   request  = HEADER, count x RECORD, located x LOCATION
#     HEADER   "VGB1", count u16, located u16, base_ms i64 (the relay's clock when it packed)
#     RECORD   frame 20s, age_ms u32 (base_ms - received at; AGE_UNKNOWN), link u8, rssi i8
#     LOCATION index u16 (ascending), lat f64, lon f64, accuracy_m f32 (NaN: none),
#              source u8, fix_age_s i32 (-1: none)
#   reply    = "VGR1", count u16, count x (status u8, reason u8, ack 20s: zeros when none)
#
# Only the frame is signed: the rest is the relay's word and the monitor checks it field by
# field, as it does the JSON. A body whose lengths or counts do not add up is refused whole
# (BadBatch): nothing in it can be trusted to line up with the frame it seems to describe.
# Plain struct and no typing: the gateway, the monitor and any MicroPython relay share it.
import struct

from protocol.errors import ProtocolError
from protocol.frame_types import HEARTBEAT

REQUEST_MAGIC = b"VGB1"
REPLY_MAGIC = b"VGR1"
_HEADER = ">4sHHq"
_RECORD = ">20sIBb"
_LOCATION = ">HddfBi"
_REPLY_HEADER = ">4sH"
_RESULT = ">BB20s"
HEADER_LEN = struct.calcsize(_HEADER)  # 16
RECORD_LEN = struct.calcsize(_RECORD)  # 26
LOCATION_LEN = struct.calcsize(_LOCATION)  # 27
REPLY_HEADER_LEN = struct.calcsize(_REPLY_HEADER)  # 6
RESULT_LEN = struct.calcsize(_RESULT)  # 22
FRAME_BYTES = 20

AGE_UNKNOWN = 0xFFFFFFFF  # the relay does not know when it heard the frame
RSSI_NONE = -128  # not a reading (BLE reports -127..20 dBm)
FIX_AGE_NONE = -1
# Codes on the wire; 0 is always "not said". A code outside these is the relay's error, and
# the monitor flags the field as it would a bad JSON value.
LINKS = (None, "serial", "ble")
SOURCES = (None, "phone_gps", "gateway_site")
STATUSES = ("accepted", "duplicate", "rejected")
# Append only: a code's meaning never changes. A reason the table lacks goes as REASON_OTHER.
REASONS = (
    None,
    "malformed",
    "bad_length",
    "unknown_type",
    "wrong_direction",
    "bad_tag",
    "replayed",
    "stale",
    "out_of_scope",
    "unknown_device",
    "revoked_device",
    "key_unavailable",
)
REASON_OTHER = 255
_NO_ACK = bytes(FRAME_BYTES)
_REASON_CODE = {r: i for i, r in enumerate(REASONS)}


class BadBatch(ProtocolError):
    reason = "bad_batch"


# MicroPython's struct has no iter_unpack; CPython's reads a 1,000-frame batch in one call.
_ITER_UNPACK = getattr(struct, "iter_unpack", None)


def _iter_unpack(fmt, size, data):
    if _ITER_UNPACK is not None:
        return _ITER_UNPACK(fmt, data)
    return [struct.unpack_from(fmt, data, at) for at in range(0, len(data), size)]


def request_len(count, located):
    return HEADER_LEN + count * RECORD_LEN + located * LOCATION_LEN


def encode_request(items, base_ms):
    # items: (frame, age_ms or None, link or None, rssi or None, location dict or None) each
    records = []
    located = []
    for i, (frame, age_ms, link, rssi, location) in enumerate(items):
        if len(frame) != FRAME_BYTES:
            raise BadBatch("item %d: a frame is %d bytes, not %d" % (i, len(frame), FRAME_BYTES))
        age = AGE_UNKNOWN if age_ms is None else min(max(0, int(age_ms)), AGE_UNKNOWN - 1)
        records.append(struct.pack(_RECORD, bytes(frame), age, LINKS.index(link), _rssi_code(rssi)))
        if location is not None:
            located.append(_pack_location(i, location))
    head = struct.pack(_HEADER, REQUEST_MAGIC, len(records), len(located), int(base_ms))
    return head + b"".join(records) + b"".join(located)


def decode_request(body, max_count):
    # -> (base_ms, [(frame, age_ms, link_code, rssi)], {index: (lat, lon, acc, source, fix)})
    if len(body) < HEADER_LEN:
        raise BadBatch("body is %d bytes: shorter than a %d-byte header" % (len(body), HEADER_LEN))
    magic, count, located, base_ms = struct.unpack_from(_HEADER, body, 0)
    if magic != REQUEST_MAGIC:
        raise BadBatch("body does not start with %r" % REQUEST_MAGIC)
    if count > max_count:
        raise BadBatch("%d frames in one batch: at most %d" % (count, max_count))
    if located > count:
        raise BadBatch("%d locations for %d frames" % (located, count))
    expected = request_len(count, located)
    if len(body) != expected:
        raise BadBatch(
            "body is %d bytes: %d frames and %d locations take %d"
            % (len(body), count, located, expected)
        )
    mv = memoryview(body)
    end = HEADER_LEN + count * RECORD_LEN
    records = list(_iter_unpack(_RECORD, RECORD_LEN, mv[HEADER_LEN:end]))
    locations = {}
    last = -1
    for loc in _iter_unpack(_LOCATION, LOCATION_LEN, mv[end:]):
        index = loc[0]
        if index <= last or index >= count:
            raise BadBatch("location for item %d: not ascending or no such item" % index)
        last = index
        locations[index] = loc[1:]
    return base_ms, records, locations


def carries_urgent(body):
    # Whether any frame in a (well-formed or not) body is other than a heartbeat, from its type
    # bytes alone: the monitor lets an alarm's request go first before it has parsed anything.
    count = struct.unpack_from(">H", body, 4)[0] if len(body) >= HEADER_LEN else 0
    for type_byte in body[HEADER_LEN : HEADER_LEN + count * RECORD_LEN : RECORD_LEN]:
        if type_byte & 0x1F != HEARTBEAT:
            return True
    return False


def location_dict(packed):
    # A packed location -> the JSON shape, which the monitor checks like any other. A code or
    # value out of range is kept as it came so that check names it.
    lat, lon, accuracy, source, fix_age = packed
    out = {"lat": lat, "lon": lon}
    if accuracy == accuracy:  # not NaN
        out["accuracy_m"] = accuracy
    if source:
        out["source"] = SOURCES[source] if source < len(SOURCES) else source
    if fix_age != FIX_AGE_NONE:
        out["fix_age_s"] = fix_age
    return out


def encode_reply(results):
    # results: (status, reason or None, ack bytes or None) each
    out = bytearray(REPLY_HEADER_LEN + RESULT_LEN * len(results))
    struct.pack_into(_REPLY_HEADER, out, 0, REPLY_MAGIC, len(results))
    at = REPLY_HEADER_LEN
    for status, reason, ack in results:
        code = _REASON_CODE.get(reason, REASON_OTHER)
        struct.pack_into(_RESULT, out, at, STATUSES.index(status), code, ack or _NO_ACK)
        at += RESULT_LEN
    return bytes(out)


def decode_reply(body, count):
    # -> [(status, reason, ack or None)], one per frame posted; BadBatch if it is not that
    if len(body) != REPLY_HEADER_LEN + RESULT_LEN * count:
        raise BadBatch("reply is %d bytes for %d frames" % (len(body), count))
    magic, n = struct.unpack_from(_REPLY_HEADER, body, 0)
    if magic != REPLY_MAGIC or n != count:
        raise BadBatch("reply is not an answer for %d frames" % count)
    out = []
    for status, reason, ack in _iter_unpack(
        _RESULT, RESULT_LEN, memoryview(body)[REPLY_HEADER_LEN:]
    ):
        if status >= len(STATUSES):
            raise BadBatch("reply status %d is not one of %d" % (status, len(STATUSES)))
        name = REASONS[reason] if reason < len(REASONS) else "other"
        out.append((STATUSES[status], name, None if ack == _NO_ACK else bytes(ack)))
    return out


def _rssi_code(rssi):
    if rssi is None:
        return RSSI_NONE
    return min(max(-127, int(rssi)), 127)


def _pack_location(index, loc):
    accuracy = loc.get("accuracy_m")
    fix_age = loc.get("fix_age_s")
    return struct.pack(
        _LOCATION,
        index,
        float(loc["lat"]),
        float(loc["lon"]),
        float("nan") if accuracy is None else float(accuracy),
        SOURCES.index(loc.get("source")),
        FIX_AGE_NONE if fix_age is None else int(fix_age),
    )
