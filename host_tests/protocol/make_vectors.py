"""Writes vectors.json once. Re-running it must not change the file: a changed vector is a wire
format change, which needs a protocol version bump, not a regenerated file.

    .venv/bin/python host_tests/protocol/make_vectors.py
"""

from __future__ import annotations

import json
from pathlib import Path

from protocol import frame_types as T
from protocol import frames

KEY16 = bytes(range(16))
KEY32 = bytes(range(0x20, 0x40))
CASES = [
    (T.SOS, 0x123456, 1, (87, 0, 0), KEY16),
    (T.SOS, 0xFFFFFF, 0xFFFFFFFF, (T.AGE_LOWER_BOUND | 5, 1, 65535), KEY32),
    (T.SOS_CANCEL, 42, 10, (1, 4), KEY16),
    (T.FALL, 42, 11, (64, 31, 2), KEY16),
    (T.FALL_CANCELLED, 42, 12, (1, 20), KEY16),
    (T.NO_MOTION, 42, 13, (64, 0, 0), KEY32),
    (T.CHECKIN_START, 42, 14, (45, 0), KEY16),
    (T.CHECKIN_STOP, 42, 15, (60, 0, 0), KEY16),
    (T.CHECKIN_OVERDUE, 42, 16, (60, 0, 30), KEY16),
    (T.LOW_BATTERY, 42, 17, (9, 10, 0), KEY16),
    (T.HEARTBEAT, 42, 18, (77, T.HB_BOOTED | T.HB_CHECKIN_ACTIVE, 2, 13), KEY16),
    (T.TEST, 42, 19, (100, 0, 0), KEY16),
    (T.ACK, 42, 1, (11,), KEY16),
    (T.ACK_HELP, 42, 2, (11,), KEY16),
    (T.ACK_RESOLVED, 42, 3, (11,), KEY32),
    (T.COMMAND, 42, 4, (T.CMD_START_CHECKIN, 0, 90), KEY16),
]


def main() -> None:
    out = [
        {
            "type": T.NAMES[ftype],
            "ftype": ftype,
            "device_id": dev,
            "counter": ctr,
            "fields": list(fields),
            "key": key.hex(),
            "frame": frames.encode(ftype, dev, ctr, fields, key).hex(),
        }
        for ftype, dev, ctr, fields, key in CASES
    ]
    path = Path(__file__).with_name("vectors.json")
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
