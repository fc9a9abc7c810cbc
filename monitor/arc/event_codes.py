"""Which SIA DC-04 event code an alarm receiving centre gets for each Vigil alarm kind.

An ARC's automation picks the response plan by code, so each kind gets the code whose meaning
in DC-04 is closest to what the operator there must do (docs/arc-forwarding.md says why for
each). A kind this table does not know is sent as QA, "emergency alarm": an unknown alarm
reaching a human beats one dropped for want of a code.
"""

from __future__ import annotations

from typing import Final

from monitor.services import alarm_kinds

# Vigil has no duress kind yet (the fob has no duress gesture); the code is fixed here so the
# day one is added it goes out as a silent hold-up alarm, not as a plain panic.
DURESS: Final[str] = "duress"

CODES: Final[dict[str, str]] = {
    alarm_kinds.SOS: "PA",  # Panic Alarm: emergency assistance request, manually activated
    DURESS: "HA",  # Holdup Alarm: silent alarm, user under duress
    alarm_kinds.FALL: "MA",  # Medical Alarm: emergency assistance request (a fall)
    alarm_kinds.NO_MOTION: "QA",  # Emergency Alarm: man-down, cause unknown
    alarm_kinds.CHECKIN_OVERDUE: "NA",  # No Activity: the worker's timer ran out unanswered
    alarm_kinds.DEVICE_OFFLINE: "YC",  # Communications Fail: the fob stopped reporting
    alarm_kinds.LOW_BATTERY: "XT",  # Transmitter Battery Trouble: low battery in the fob
}
FALLBACK: Final[str] = "QA"


def code_for(kind: str) -> str:
    return CODES.get(kind, FALLBACK)
