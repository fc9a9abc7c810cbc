"""The one interface every escalation channel implements, and shared failure rules."""

from __future__ import annotations

import abc
from typing import Any

from monitor.errors import NotifyFailed
from monitor.models import Contact


class Notifier(abc.ABC):
    # The name stored with each attempt in the audit trail ("email", "webhook", ...).
    channel = "webhook"

    @abc.abstractmethod
    def send(self, contact: Contact, message: dict[str, Any]) -> None:
        """Deliver or raise NotifyFailed (permanent=True when retrying cannot help)."""

    def channel_for(self, contact: Contact) -> str:
        """Which channel this notifier uses for the contact (a registry answers per contact)."""
        return self.channel


# A receiver saying "not now" (timeout, rate limit) is worth retrying; any other 4xx says the
# request itself is wrong (bad URL, bad credentials, refused number) and will be wrong again.
_RETRYABLE_4XX = frozenset((408, 425, 429))


def http_failure(status: int, detail: str = "") -> NotifyFailed:
    """NotifyFailed for a non-2xx HTTP reply, permanent for a 4xx that retrying cannot fix."""
    permanent = 400 <= status < 500 and status not in _RETRYABLE_4XX
    text = f"HTTP {status}" + (f": {detail[:200]}" if detail else "")
    return NotifyFailed(text, http_status=status, permanent=permanent)
