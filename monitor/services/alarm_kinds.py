"""Alarm kinds and their priorities, derived from protocol.frame_types.

A frame-raised alarm's kind is the frame's name (`frame_types.NAMES`) and its priority is the
frame's place in `frame_types.ALARMS`, the order the fob's outbox sends them in: the fob, the
gateway's queue and the operator's console rank alarms the same way because they read the one
list. The kinds are stored in `Alarm.kind`, so they stay plain strings (no enum reaches the
database driver); these constants only stop each module spelling them on its own.
"""

from __future__ import annotations

from typing import Final

from protocol import frame_types as ft

SOS: Final[str] = ft.NAMES[ft.SOS]
FALL: Final[str] = ft.NAMES[ft.FALL]
NO_MOTION: Final[str] = ft.NAMES[ft.NO_MOTION]
CHECKIN_OVERDUE: Final[str] = ft.NAMES[ft.CHECKIN_OVERDUE]
LOW_BATTERY: Final[str] = ft.NAMES[ft.LOW_BATTERY]
# Raised by supervision, not by a frame: no fob can say it has gone silent.
DEVICE_OFFLINE: Final[str] = "device_offline"

# The frame type that raises each frame-raised kind.
FROM_FRAME: Final[dict[int, str]] = {t: ft.NAMES[t] for t in ft.ALARMS}

# Lower is more urgent. Frame-raised kinds follow protocol.frame_types.priority; silence sits
# with a missed check-in, where an operator would rank it (either can mean a worker down).
PRIORITY: Final[dict[str, int]] = {
    **{kind: ft.priority(t) for t, kind in FROM_FRAME.items()},
    DEVICE_OFFLINE: ft.priority(ft.CHECKIN_OVERDUE),
}

# Kinds a person comes for (protocol.frame_types.HELP_ALARMS): an operator's acknowledgement of
# one sends ACK_HELP and the fob says "help is coming"; any other gets a plain ACK.
HELP: Final[frozenset[str]] = frozenset(ft.NAMES[t] for t in ft.HELP_ALARMS)

# Kinds where a repeat while one is open adds to the open alarm instead of a new card: a fob
# still overdue or still low says nothing new, and a second card would only split the record.
COALESCED: Final[frozenset[str]] = frozenset((CHECKIN_OVERDUE, LOW_BATTERY))
