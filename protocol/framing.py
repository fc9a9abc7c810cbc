# Serial framing for UART/USB: 0x00, COBS-encoded payload + CRC-32, 0x00.
#
# COBS guarantees the payload holds no 0x00, so a reader that joins mid-stream, sees line noise
# or a half-written frame from a resetting fob resynchronises at the next delimiter. The CRC
# catches noise inside a frame before the (costlier) tag check, and protects unsigned
# provisioning messages.
import binascii
import struct

from protocol.errors import BadFraming

MAX_PAYLOAD = 240  # provisioning messages may be long; signed frames are 20 bytes
_CRC_LEN = 4


def _crc(data):
    return struct.pack("<I", binascii.crc32(data) & 0xFFFFFFFF)


def cobs_encode(data):
    out = bytearray()
    code_at = 0
    out.append(0)
    code = 1
    for b in data:
        if b == 0:
            out[code_at] = code
            code_at = len(out)
            out.append(0)
            code = 1
        else:
            out.append(b)
            code += 1
            if code == 0xFF:
                out[code_at] = code
                code_at = len(out)
                out.append(0)
                code = 1
    out[code_at] = code
    return bytes(out)


def cobs_decode(data):
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise BadFraming("zero byte inside a COBS block")
        end = i + code
        if end > n:
            raise BadFraming("COBS block runs past the end")
        out.extend(data[i + 1 : end])
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def encode(payload):
    if len(payload) > MAX_PAYLOAD:
        raise BadFraming("payload of %d bytes exceeds %d" % (len(payload), MAX_PAYLOAD))
    payload = bytes(payload)
    # Leading delimiter too: a frame cut short by a reset (no closing 0x00) then costs only itself,
    # not the next frame it would otherwise run into.
    return b"\x00" + cobs_encode(payload + _crc(payload)) + b"\x00"


class Deframer:
    # Feed it bytes as they arrive; it returns the complete, CRC-checked payloads. Bad frames are
    # counted, never raised: one noisy frame must not stop the ones queued behind it.
    def __init__(self, max_payload=MAX_PAYLOAD):
        # COBS adds one byte per 254 plus one; the CRC adds four.
        self._cap = max_payload + _CRC_LEN + (max_payload + _CRC_LEN) // 254 + 2
        self._buf = bytearray(self._cap)
        self._n = 0
        self._overflow = False
        self.frames = 0
        self.errors = 0

    def feed(self, data):
        out = []
        for b in bytes(data):
            if b == 0:
                payload = self._end_frame()
                if payload is not None:
                    out.append(payload)
            elif self._n < self._cap:
                self._buf[self._n] = b
                self._n += 1
            else:
                self._overflow = True
        return out

    def _end_frame(self):
        n = self._n
        overflow = self._overflow
        self._n = 0
        self._overflow = False
        if n == 0 and not overflow:
            return None  # idle delimiter: senders may lead with one to flush noise
        if overflow:
            self.errors += 1
            return None
        try:
            raw = cobs_decode(memoryview(self._buf)[:n])
        except BadFraming:
            self.errors += 1
            return None
        if len(raw) < _CRC_LEN or _crc(raw[:-_CRC_LEN]) != raw[-_CRC_LEN:]:
            self.errors += 1
            return None
        self.frames += 1
        return raw[:-_CRC_LEN]
