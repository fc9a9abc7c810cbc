"""E.164 phone numbers, the one form both SMS channels accept."""

from __future__ import annotations

import re

from monitor.errors import NotifyFailed

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def e164(number: str) -> str:
    """The number with spaces dropped, or a permanent NotifyFailed: a bad number stays bad."""
    compact = number.replace(" ", "").replace("-", "")
    if not _E164.fullmatch(compact):
        raise NotifyFailed(f"not an E.164 phone number: {number!r}", permanent=True)
    return compact
