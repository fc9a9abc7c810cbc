"""Phones as gateways: one-time enrolment codes, redeeming them, and visit memos.

A phone is a Gateway row of kind "phone" scoped to one worker: it may relay only frames from
devices allocated to that worker (ingest rejects the others per frame as `out_of_scope`) and
collect only their downlinks. At enrolment it also gets a device of its own (board "phone",
allocated to the worker) so it can sign its own SOS and check-in frames when the fob is missing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.core.crypto import KeyBox
from monitor.errors import EnrolmentExpired, EnrolmentUnknown, EnrolmentUsed, Forbidden, NotFound
from monitor.models import Device, Gateway, PhoneEnrolment, Worker, utcnow
from monitor.services import audit, provisioning

# Long enough to walk to the worker's desk and scan it, short enough that a code photographed
# off a screen is soon worth nothing.
ENROLMENT_TTL = dt.timedelta(minutes=15)
# Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand cannot be
# misread; 10 characters are 50 bits. Guessing one live code online, through the per-address
# throttle on redeem, is hopeless within its 15 minutes.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_LEN = 10
_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
PHONE_BOARD = "phone"
PHONE, RELAY = "phone", "relay"


def normalise(code: str) -> str:
    """What the worker typed, as it was issued: case, spaces, dashes and look-alikes forgiven."""
    return "".join(c for c in code.upper() if c.isalnum()).translate(_READS_AS)


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LEN))
    return f"{raw[:5]}-{raw[5:]}"


def create_enrolment(
    session: Session, actor: str, user_id: int | None, worker_id: int
) -> tuple[PhoneEnrolment, str]:
    """A new code for the worker; returns the row and the plaintext code (shown once)."""
    if session.get(Worker, worker_id) is None:
        raise NotFound(f"worker {worker_id} does not exist", worker_id=worker_id)
    code = _new_code()
    now = utcnow()
    row = PhoneEnrolment(
        code_hash=code_hash(code),
        worker_id=worker_id,
        created_by=user_id,
        created_at=now,
        expires_at=now + ENROLMENT_TTL,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "phone_enrolment_created",
        subject=f"worker:{worker_id}",
        details={"enrolment": row.id, "expires_at": row.expires_at.isoformat()},
    )
    return row, code


@dataclass
class Redeemed:
    gateway: Gateway
    token: str
    worker: Worker
    device: Device
    key: bytes


def redeem(
    session: Session, keybox: KeyBox, code: str, app_version: str, name: str | None
) -> Redeemed:
    """Spend a code: a phone gateway credential for its worker and the phone's own device.
    An unknown, expired or used code raises and changes nothing."""
    now = utcnow()
    row = session.scalar(select(PhoneEnrolment).where(PhoneEnrolment.code_hash == code_hash(code)))
    if row is None:
        raise EnrolmentUnknown("no such enrolment code: check it, or ask for a new one")
    if row.used_at is not None:
        raise EnrolmentUsed("this enrolment code has been used already: ask for a new one")
    if row.expires_at <= now:
        raise EnrolmentExpired("this enrolment code has expired: ask for a new one")
    worker = session.get(Worker, row.worker_id)
    if worker is None:  # deleted since (the enrolment row cascades, but not mid-transaction)
        raise EnrolmentUnknown("the worker of this enrolment no longer exists")
    # Claim the code first, conditionally: of two phones redeeming it at once, one gets it.
    claimed = session.execute(
        update(PhoneEnrolment)
        .where(PhoneEnrolment.id == row.id, PhoneEnrolment.used_at.is_(None))
        .values(used_at=now)
    )
    if getattr(claimed, "rowcount", 1) != 1:
        raise EnrolmentUsed("this enrolment code has been used already: ask for a new one")
    actor = f"enrolment:{row.id}"
    device, key = provisioning.provision_device(
        session, keybox, actor, board=PHONE_BOARD, firmware_version=app_version,
        worker_id=worker.id,
    )  # fmt: skip
    gw, token = provisioning.create_gateway(
        session, actor, (name or f"{worker.name}'s phone")[:120]
    )
    gw.kind, gw.worker_id, gw.device_id = PHONE, worker.id, device.id
    gw.version, gw.last_seen_at = app_version, now
    session.execute(
        update(PhoneEnrolment).where(PhoneEnrolment.id == row.id).values(gateway_id=gw.id)
    )
    session.flush()
    audit.record(
        session,
        actor,
        "phone_enrolled",
        subject=f"gateway:{gw.id}",
        details={"worker": worker.id, "device": device.id, "app_version": app_version},
    )
    return Redeemed(gw, token, worker, device, key)


def scope_of(gw: Gateway) -> int | None:
    """The worker whose devices this gateway may serve; None for a relay (any fob it hears).
    A phone whose worker was deleted serves nobody (0 matches no worker id)."""
    if gw.kind != PHONE:
        return None
    return gw.worker_id or 0


def set_visit(
    session: Session, gw: Gateway, device_id: int, where: str, with_: str | None
) -> Device:
    """The memo of the visit the phone is starting on one of its worker's devices."""
    device = session.get(Device, device_id)
    scope = scope_of(gw)
    if device is None or (scope is not None and device.worker_id != scope):
        # Same answer whether the device exists or not: a phone learns nothing of others' fobs.
        raise Forbidden(f"device {device_id} is not one of this phone's worker's devices")
    device.visit_where, device.visit_with = where, with_
    audit.record(
        session,
        f"gateway:{gw.id}",
        "visit_memo",
        subject=f"device:{device_id}",
        details={"where": where, "with": with_},
    )
    return device
