# Truncated HMAC-SHA256 tags bound to direction.
#
# The tag covers a direction byte that is not sent, then the frame without its tag: an uplink
# frame re-sent downward (or the reverse) fails verification even if its type byte were forged.
try:
    import hmac as _hmac
except ImportError:  # ESP32 builds ship without hmac; micropython-lib's is optional
    _hmac = None
import hashlib

TAG_LEN = 8
_DIR_BYTE = (b"U", b"D", b"P")
_BLOCK = 64


def _hmac_sha256(key, msg):
    if _hmac is not None and hasattr(_hmac, "digest"):
        return _hmac.digest(key, msg, "sha256")  # CPython: one C call
    if _hmac is not None:
        return _hmac.new(key, msg, hashlib.sha256).digest()
    # RFC 2104 on the bare hash, for MicroPython builds without the hmac module.
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key + bytes(_BLOCK - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(msg)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    outer.update(inner.digest())
    return outer.digest()


def compute(key, direction, data):
    # data: the frame bytes before the tag (bytes, bytearray or memoryview)
    return _hmac_sha256(key, _DIR_BYTE[direction] + bytes(data))[:TAG_LEN]


def equal(a, b):
    # Constant time in the contents: the loop never exits early, so timing does not reveal how
    # many leading bytes of a forged tag were right.
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


if _hmac is not None and hasattr(_hmac, "compare_digest"):
    equal = _hmac.compare_digest  # noqa: F811 - CPython's C version is constant time too
