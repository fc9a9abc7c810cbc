"""Tags: HMAC-SHA256 per RFC 4231, the fallback used on ESP32 builds without `hmac`, and the
constant-time comparison."""

from __future__ import annotations

import pytest

from devstack.interpreters import Interpreter

# RFC 4231 test case 2 (key "Jefe") and test case 6 (131-byte key, hashed first).
RFC4231 = [
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
]


@pytest.mark.parametrize(("key", "msg", "mac"), RFC4231)
@pytest.mark.parametrize("use_fallback", [False, True], ids=["hmac-module", "fallback"])
def test_hmac_matches_rfc4231(
    device: Interpreter, key: bytes, msg: bytes, mac: str, use_fallback: bool
) -> None:
    device.exec("from protocol import tag as _tag\n_saved_hmac = _tag._hmac")
    if use_fallback:
        device.exec("_tag._hmac = None")
    try:
        assert device.call("protocol.tag:_hmac_sha256", key, msg).hex() == mac
    finally:
        device.exec("_tag._hmac = _saved_hmac")


def test_tag_is_bound_to_direction(device: Interpreter) -> None:
    up = device.call("protocol.tag:compute", bytes(16), 0, b"same bytes")
    down = device.call("protocol.tag:compute", bytes(16), 1, b"same bytes")
    assert len(up) == len(down) == 8
    assert up != down


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (b"12345678", b"12345678", True),
        (b"12345678", b"12345679", False),
        (b"1234", b"12345", False),
    ],
)
def test_equal(device: Interpreter, a: bytes, b: bytes, same: bool) -> None:
    assert device.call("protocol.tag:equal", a, b) is same
