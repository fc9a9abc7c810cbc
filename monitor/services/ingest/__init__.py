"""Ingest of relayed uplink frames: verify, replay-check, dedupe, store, act, ack.

Read in the order a frame travels:
  relayed.py          the gateway's unsigned fields, checked one by one (pure)
  parse.py            items as posted (JSON or packed) → frames with a known uplink type (pure)
  batch.py            one result per item and the reasons counted (pure)
  reasons.py          every rejection reason and field flag, spelled once
  pipeline.py         `ingest`: one batch, one transaction, in the order docs/monitor.md gives
  device_state.py     the hot device columns read and written without the ORM; the ACK
  dedupe.py           a resend to ack again, or a reused counter
  actions.py          what an accepted frame does: alarms, cancels, check-ins
  rejection_counts.py the per-reason counters admins read
"""

from monitor.services.ingest.dedupe import known_frames_statement
from monitor.services.ingest.pipeline import MAX_BATCH, ingest, ingest_packed
from monitor.services.ingest.relayed import MAX_RELAY_DELAY, FrameIn, Location

__all__ = [
    "MAX_BATCH",
    "MAX_RELAY_DELAY",
    "FrameIn",
    "Location",
    "ingest",
    "ingest_packed",
    "known_frames_statement",
]
