"""One-time links an escalation contact answers with: "I'm on it" or "can't help".

Each escalation message carries a link to /respond/<token>. The contact opens it on a phone,
with no account, and taps an answer. The token is the capability, so it is signed: the delivery
id and an expiry, HMAC-SHA256 under a key derived from the monitor's master key (nothing is
stored until it is used). It is one-time and short-lived by the alarm's state:
  - forged or damaged: refused (LinkForged), nothing changes;
  - past its expiry, or its alarm resolved: refused (LinkExpired);
  - already answered: refused (LinkUsed), the first answer stands.
An answer is an audit entry on the alarm ("contact_answered"), so the operator sees it in the
timeline and on the live stream, and escalation reads it: after "I'm on it" no further contact
is called for that alarm; after "can't help" the next contact's timer runs on.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import hmac
import json
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import LinkExpired, LinkForged, LinkUsed
from monitor.models import Alarm, AuditEntry, Contact, Delivery, utcnow
from monitor.services import alarms

ON_IT = "on_it"
CANNOT_HELP = "cannot_help"
ANSWERS = (ON_IT, CANNOT_HELP)
ANSWERED = "contact_answered"
LINK_TTL = dt.timedelta(hours=24)  # an alarm open a day has long left the contacts' hands
_PAYLOAD = struct.Struct(">QI")  # delivery id, expiry (unix seconds)
_MAC_LEN = 16


class LinkSigner:
    def __init__(self, master_key: str, public_url: str) -> None:
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"vigil responder links v1"
        ).derive(master_key.encode())
        self.public_url = public_url.rstrip("/")

    def token(self, delivery_id: int, expires: dt.datetime) -> str:
        payload = _PAYLOAD.pack(delivery_id, int(expires.timestamp()))
        raw = payload + self._mac(payload)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def url(self, delivery_id: int, expires: dt.datetime) -> str:
        return f"{self.public_url}/respond/{self.token(delivery_id, expires)}"

    def read(self, token: str) -> tuple[int, dt.datetime]:
        """(delivery id, expiry) of a genuine token; LinkForged for anything else."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise LinkForged("this link is damaged: ask the operator to call you") from None
        if len(raw) != _PAYLOAD.size + _MAC_LEN:
            raise LinkForged("this link is damaged: ask the operator to call you")
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise LinkForged("this link was not issued by this monitor")
        delivery_id, expires = _PAYLOAD.unpack(payload)
        return delivery_id, dt.datetime.fromtimestamp(expires, dt.UTC)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_LEN]


@functools.lru_cache(maxsize=4)
def signer(master_key: str, public_url: str) -> LinkSigner:
    """The signer for these settings, derived once (the scheduler ticks and each page ask)."""
    return LinkSigner(master_key, public_url)


@dataclass(frozen=True)
class Request:
    """What a contact opening a link is asked about."""

    delivery: Delivery
    contact: Contact
    alarm: Alarm


def open_link(
    session: Session, signer: LinkSigner, token: str, now: dt.datetime | None = None
) -> Request:
    """The delivery behind a usable link, or LinkForged / LinkExpired / LinkUsed."""
    now = now or utcnow()
    delivery_id, expires = signer.read(token)
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise LinkForged("this link names no escalation on this monitor")
    alarm = session.get(Alarm, delivery.alarm_id)
    contact = session.get(Contact, delivery.contact_id)
    if alarm is None or contact is None:
        raise LinkExpired("this alarm is no longer on the monitor")
    if alarm.status == alarms.RESOLVED:
        raise LinkExpired("this alarm has been resolved: no answer is needed any more")
    if now > expires:
        raise LinkExpired("this link has expired: ask the operator to call you")
    first = answer_of(session, alarm.id, delivery.id)
    if first is not None:
        raise LinkUsed(f"this link has been used already: the answer was {_SAID[first]!r}")
    return Request(delivery, contact, alarm)


def answer(
    session: Session,
    signer: LinkSigner,
    token: str,
    said: str,
    now: dt.datetime | None = None,
) -> Request:
    if said not in ANSWERS:
        raise LinkForged(f"the answer must be one of {', '.join(ANSWERS)}")
    now = now or utcnow()
    req = open_link(session, signer, token, now)
    alarms.attach(
        session,
        req.alarm,
        f"contact:{req.contact.name}",
        ANSWERED,
        contact=req.contact.name,
        delivery_id=req.delivery.id,
        answer=said,
    )
    return req


def answer_of(session: Session, alarm_id: int, delivery_id: int) -> str | None:
    for d in _answers(session, alarm_id):
        if d.get("delivery_id") == delivery_id:
            return str(d.get("answer"))
    return None


def someone_on_it(session: Session, alarm_id: int) -> bool:
    """Has a contact said "I'm on it" for this alarm: no further contact is needed."""
    return any(d.get("answer") == ON_IT for d in _answers(session, alarm_id))


def _answers(session: Session, alarm_id: int) -> list[dict[str, object]]:
    rows = session.scalars(
        select(AuditEntry.details)
        .where(AuditEntry.alarm_id == alarm_id, AuditEntry.action == ANSWERED)
        .order_by(AuditEntry.id)
    )
    out = []
    for text in rows:
        try:
            d = json.loads(text or "{}")
        except ValueError:
            continue
        if isinstance(d, dict):
            out.append(d)
    return out


_SAID = {ON_IT: "I'm on it", CANNOT_HELP: "can't help"}


def said(answer_: str) -> str:
    return _SAID.get(answer_, answer_)
