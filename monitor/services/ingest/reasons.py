"""Why ingest refused a frame, or did not believe a field the gateway relayed beside it.

Each is counted under its own name (`RejectionCount`: GET /v1/reports/rejections and the
Devices page) and returned to the gateway, so the strings are stored and read by people and
programs: one spelling, here. Refusals the protocol finds itself (bad_length, unknown_type,
bad_tag, replayed, stale) are the `reason` of its `protocol.errors` class and pass through.
"""

from __future__ import annotations

from typing import Final

from protocol import errors

# Refusals: the frame is not taken and gets no ack.
MALFORMED: Final[str] = "malformed"  # not an object with a hex `frame`
WRONG_DIRECTION: Final[str] = errors.WrongDirection.reason  # a downlink type posted as uplink
OUT_OF_SCOPE: Final[str] = "out_of_scope"  # a phone relaying a fob not allocated to its worker
UNKNOWN_DEVICE: Final[str] = "unknown_device"
REVOKED_DEVICE: Final[str] = "revoked_device"
# The device's sealed key will not open: the monitor's fault, so no ack and the fob resends.
KEY_UNAVAILABLE: Final[str] = "key_unavailable"
REPLAYED: Final[str] = errors.Replayed.reason  # a stored counter with other signed content

# Flags: the frame is taken and acked; one field the gateway added was replaced or dropped.
BAD_RECEIVED_AT: Final[str] = "bad_received_at"  # missing or unreadable: our clock stands in
CLAMPED_RECEIVED_AT: Final[str] = "clamped_received_at"  # outside the believable window
BAD_LINK: Final[str] = "bad_link"
BAD_RSSI: Final[str] = "bad_rssi"
BAD_LOCATION: Final[str] = "bad_location"
# Not the gateway's: a verified frame behind the replay window, never stored, taken anyway.
BEHIND_WINDOW: Final[str] = "behind_window"
