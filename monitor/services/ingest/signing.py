"""An uplink frame verified, and its ACK signed, with a device's opened key (crypto.OpenedKey).

protocol/frames.py's `decode` and `encode` without their per-call setup: ingest has already
read the header (`parse`), and the key's HMAC state after the direction byte is computed once
per key, not per frame. The bytes are the protocol's, to the bit:
host_tests/monitor/services/test_ingest_signing.py checks both against protocol/frames.py.
"""

from __future__ import annotations

import hmac
import struct

from monitor.core.crypto import OpenedKey
from monitor.services.ingest.batch import Parsed
from protocol import frame_types as ft
from protocol import frames
from protocol.errors import BadTag

_SIGNED = slice(0, frames.SIGNED_LEN)
_TAG = slice(frames.SIGNED_LEN, frames.FRAME_LEN)
_ACK = struct.Struct(">III")  # header word, counter, acked counter: ACK's body is one u32
_ACK_WORD = (frames.VERSION << 5 | ft.ACK) << 24


def verify(key: OpenedKey, p: Parsed) -> frames.Frame:
    """The frame `p` holds, once its tag verifies; BadTag when it does not."""
    raw = p.raw
    if not hmac.compare_digest(key.tag(ft.UPLINK, raw[_SIGNED]), raw[_TAG]):
        raise BadTag(f"tag does not verify for device {p.device_id}")
    fields = struct.unpack_from(ft.layout(p.ftype), raw, frames.HEADER_LEN)
    return frames.Frame(p.ftype, p.device_id, p.counter, fields)


def ack(key: OpenedKey, device_id: int, counter: int, acked: int) -> bytes:
    """The ACK for uplink `acked`, sent under downlink `counter` (downlinks.sign_ack's)."""
    signed = _ACK.pack(_ACK_WORD | device_id, counter, acked)
    return signed + key.tag(ft.DOWNLINK, signed)
