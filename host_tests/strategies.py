"""Hypothesis strategies shared by the suite. Exclusions are commented where they are made."""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import strategies as st

from protocol import frame_types as T
from protocol import frames, framing

SIGNED_TYPES = sorted(t for t in T.NAMES)  # every type with a signed 20-byte layout
UPLINK_TYPES = [t for t in SIGNED_TYPES if T.direction(t) == T.UPLINK]
DOWNLINK_TYPES = [t for t in SIGNED_TYPES if T.direction(t) == T.DOWNLINK]
_MAX = {"B": 0xFF, "H": 0xFFFF, "I": 0xFFFFFFFF}

device_ids = st.integers(0, 0xFFFFFF)
counters = st.integers(0, 0xFFFFFFFF)
# Per-device keys are 128 or 256 bits; other lengths are not provisioned.
keys = st.sampled_from([16, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
# The monitor issues 128-bit keys (monitor.core.crypto.DEVICE_KEY_LEN).
issued_keys = st.binary(min_size=16, max_size=16)

# Any one bit of a signed frame, to flip.
frame_bits = st.integers(0, 8 * frames.FRAME_LEN - 1)
# Random bytes up to twice a frame's length: shorter, exactly as long as, and longer than a frame.
junk_frames = st.binary(max_size=2 * frames.FRAME_LEN)

# Serial framing: payloads from one byte to the largest the framer takes, and the buffer types a
# framer must accept (it is fed bytes, bytearray and memoryview).
serial_payloads = st.binary(min_size=1, max_size=framing.MAX_PAYLOAD)
buffer_kinds = st.sampled_from(["bytes", "bytearray", "memoryview"])


def fields_for(ftype: int) -> st.SearchStrategy[tuple[int, ...]]:
    fmt = T.layout(ftype)
    assert fmt is not None
    return st.tuples(*(st.integers(0, _MAX[c]) for c in fmt[1:]))


@st.composite
def signed_frames(
    draw: Any, types: list[int] = SIGNED_TYPES
) -> tuple[int, int, int, tuple[int, ...], bytes]:
    ftype = draw(st.sampled_from(types))
    return ftype, draw(device_ids), draw(counters), draw(fields_for(ftype)), draw(keys)


def body_size(ftype: int) -> int:
    fmt = T.layout(ftype)
    assert fmt is not None
    return struct.calcsize(fmt)


# Provisioning messages: every provisioning type (serial only, unsigned).
PROV_TYPES = [
    T.PROV_INFO_REQ,
    T.PROV_INFO,
    T.PROV_SET,
    T.PROV_RESULT,
    T.PROV_RESET,
    T.PROV_STATUS_REQ,
    T.PROV_STATUS,
    T.PROV_LOG,
]
prov_types = st.sampled_from(PROV_TYPES)

# Provisioning records: ints, text and raw bytes on the tags that carry each kind.
prov_records = st.dictionaries(
    st.sampled_from([1, 3, 6, 9, 10, 11, 13]),
    st.integers(0, 0xFFFFFFFF),
    max_size=5,
).flatmap(
    lambda ints: st.fixed_dictionaries(
        {},
        optional={
            2: keys,
            4: st.text(max_size=30),
            5: st.text(max_size=20),
        },
    ).map(lambda extra: {**ints, **extra})
)
