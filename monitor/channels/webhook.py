"""Webhooks signed with HMAC-SHA256, the scheme Stripe and others use.

Header `Vigil-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. The
timestamp is inside the MAC, so a receiver that checks it (verify below) refuses both forgeries
and replays of an old, genuinely signed request. Several v1= values may appear while a secret is
being rotated; any one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from monitor.channels.base import Notifier, http_failure
from monitor.errors import NotifyFailed
from monitor.models import Contact

HEADER = "Vigil-Signature"
TOLERANCE_S = 300  # a signed request older (or further in the future) than 5 min is refused
TIMEOUT_S = 5.0  # one slow endpoint must not hold back the next contact's delivery


class SignatureInvalid(ValueError):
    """The request is not signed by the shared secret, or it is too old to accept."""


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The Vigil-Signature header value for this body."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, body)}"


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    now: float | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> int:
    """For receivers: check a Vigil-Signature header over the raw body; returns its timestamp.

    Raises SignatureInvalid for a missing or malformed header, a wrong MAC, or a timestamp
    outside tolerance (a replay). Compare against the raw bytes received, not re-encoded JSON.
    """
    if not header:
        raise SignatureInvalid("no signature header")
    t: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        k, _, v = part.strip().partition("=")
        if k == "t" and v.isdigit():
            t = int(v)
        elif k == "v1" and v:
            macs.append(v)
    if t is None or not macs:
        raise SignatureInvalid("malformed signature header")
    expected = _mac(secret, t, body)
    if not any(hmac.compare_digest(expected, m) for m in macs):
        raise SignatureInvalid("signature does not match")
    now = time.time() if now is None else now
    if abs(now - t) > tolerance_s:
        raise SignatureInvalid(f"signature timestamp {int(now - t)} s from now: replay refused")
    return t


class WebhookChannel(Notifier):
    channel = "webhook"

    def __init__(self, client: httpx.Client | None = None, secret: str | None = None) -> None:
        self._client = client or httpx.Client(timeout=TIMEOUT_S)
        # Without a secret the body goes unsigned, as before channels existed (development,
        # old tests); deployments set VIGIL_WEBHOOK_SECRET so receivers can verify.
        self._secret = secret

    def send(self, contact: Contact, message: dict[str, Any]) -> None:
        try:
            # Sign the exact bytes sent: a receiver verifies the raw body.
            body = json.dumps(message, allow_nan=False, separators=(",", ":")).encode()
        except (ValueError, TypeError) as e:
            # A message that cannot be encoded will not encode next time either.
            raise NotifyFailed(f"{type(e).__name__}: {e}", permanent=True) from e
        headers = {"Content-Type": "application/json"}
        if self._secret:
            headers[HEADER] = sign(self._secret, body)
        try:
            r = self._client.post(contact.target, content=body, headers=headers)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
            raise NotifyFailed(f"{type(e).__name__}: {e}", permanent=True) from e
        except (httpx.HTTPError, ValueError, TypeError) as e:
            raise NotifyFailed(f"{type(e).__name__}: {e}") from e
        if r.status_code >= 300:
            raise http_failure(r.status_code)
