"""Ingest's own verifier and ACK signer (ingest/signing.py, with crypto.OpenedKey's
precomputed HMAC state) give the protocol's bytes to the bit, and a revoked key is zeroed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.core.crypto import KeyBox
from monitor.models import utcnow
from monitor.services.ingest import signing
from monitor.services.ingest.parse import parse
from protocol import frame_types as ft
from protocol import frames
from protocol.errors import BadTag

BOX = KeyBox("signing-test-master-key-" + "k" * 32)
UPLINK_TYPES = sorted(t for t in ft.NAMES if ft.direction(t) == ft.UPLINK)


def _fields(ftype: int, draw: st.DrawFn) -> tuple[int, ...]:
    limits = {"B": 255, "H": 65535, "I": 2**32 - 1}
    return tuple(draw(st.integers(0, limits[c])) for c in ft.layout(ftype).lstrip("><!"))


@st.composite
def signed_uplinks(draw: st.DrawFn) -> tuple[bytes, bytes, int]:
    ftype = draw(st.sampled_from(UPLINK_TYPES))
    device = draw(st.integers(1, frames.MAX_DEVICE_ID))
    key = draw(st.binary(min_size=16, max_size=16))
    raw = frames.encode(ftype, device, draw(st.integers(0, 2**32 - 1)), _fields(ftype, draw), key)
    return raw, key, device


@given(signed_uplinks(), st.booleans())
def test_verify_agrees_with_the_protocol_on_good_and_forged_frames(
    made: tuple[bytes, bytes, int], forge: bool
) -> None:
    raw, key, device = made
    if forge:
        raw = raw[:-1] + bytes([raw[-1] ^ 1])
    [p] = parse([{"frame": raw.hex(), "received_at": utcnow().isoformat()}], utcnow()).parsed
    opened = BOX.opened(device, BOX.seal(device, key))
    try:
        want = frames.decode(raw, key, ft.UPLINK).as_dict()
    except BadTag:
        with pytest.raises(BadTag):
            signing.verify(opened, p)
        return
    assert signing.verify(opened, p).as_dict() == want


@given(
    st.integers(1, frames.MAX_DEVICE_ID),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.binary(min_size=16, max_size=16),
)
def test_an_ack_is_the_protocols_ack(device: int, counter: int, acked: int, key: bytes) -> None:
    opened = BOX.opened(device, BOX.seal(device, key))
    assert signing.ack(opened, device, counter, acked) == frames.encode(
        ft.ACK, device, counter, (acked,), key
    )


def test_a_key_is_opened_once_until_it_expires_or_is_re_provisioned() -> None:
    now = [1000.0]
    box = KeyBox("signing-test-master-key-" + "k" * 32, clock=lambda: now[0])
    sealed = box.seal(5, bytes(range(16)))
    first = box.opened(5, sealed)
    assert box.opened(5, sealed) is first
    assert box.opened(5, box.seal(5, bytes(range(16)))) is not first  # new ciphertext
    again = box.opened(5, sealed)
    now[0] += 601
    assert box.opened(5, sealed) is not again  # past KEY_TTL_S: opened afresh


def test_a_revoked_devices_key_is_zeroed_in_memory() -> None:
    box = KeyBox("signing-test-master-key-" + "k" * 32)
    opened = box.opened(9, box.seal(9, bytes(range(1, 17))))
    box.forget(9)
    assert opened.key == bytearray(16)
    with pytest.raises(Exception, match="revoked"):
        opened.tag(ft.UPLINK, bytes(12))
