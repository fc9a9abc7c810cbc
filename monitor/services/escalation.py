"""Escalation: an alarm nobody acknowledges walks down the worker's ordered contact list.

Deliveries are rows: created when due, attempted by a Notifier, retried with backoff until
MAX_ATTEMPTS, each attempt recorded. A restart picks up pending deliveries where they were.
"""

from __future__ import annotations

import abc
import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.core.db import Database
from monitor.errors import NotifyFailed
from monitor.models import Alarm, Contact, Delivery, utcnow
from monitor.services import alarm_kinds as kinds
from monitor.services import alarms, audit, jobs
from monitor.services.responder_links import LINK_TTL, LinkSigner, someone_on_it

MAX_ATTEMPTS = 6
RETRY_BASE = dt.timedelta(seconds=5)  # 5, 10, 20, 40, 80 s: a minute-long outage is ridden out
WEBHOOK_TIMEOUT_S = 5.0  # one slow endpoint must not hold back the next contact's delivery


class Notifier(abc.ABC):
    @abc.abstractmethod
    def send(self, contact: Contact, message: dict[str, Any]) -> None:
        """Deliver or raise NotifyFailed."""


class WebhookNotifier(Notifier):
    def __init__(self, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(timeout=WEBHOOK_TIMEOUT_S)

    def send(self, contact: Contact, message: dict[str, Any]) -> None:
        try:
            r = self._client.post(contact.webhook_url, json=message)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, TypeError) as e:
            # ValueError/TypeError: a message httpx cannot encode, or a URL it cannot parse.
            raise NotifyFailed(f"{type(e).__name__}: {e}") from e
        if r.status_code >= 300:
            raise NotifyFailed(f"HTTP {r.status_code}", http_status=r.status_code)


def schedule(
    session: Session,
    now: dt.datetime | None = None,
    *,
    low_battery: bool = False,
    offline_delay_s: int = 900,
) -> list[int]:
    """Create deliveries for open alarms that still need a person, once a contact's delay passed.

    Not escalated: alarms the worker cancelled at the fob, and low battery unless `low_battery`
    (the organisation's setting). A device gone offline waits `offline_delay_s` more before its
    first contact's delay starts.
    """
    now = now or utcnow()
    created: list[int] = []
    wanted = select(Alarm).where(
        Alarm.status == alarms.OPEN,
        Alarm.worker_id.is_not(None),
        Alarm.cancelled_at.is_(None),
    )
    if not low_battery:
        wanted = wanted.where(Alarm.kind != kinds.LOW_BATTERY)
    for alarm in session.scalars(wanted).all():
        extra = offline_delay_s if alarm.kind == kinds.DEVICE_OFFLINE else 0
        with jobs.isolated(session, "escalation", f"alarm {alarm.id}"):
            created += _schedule_one(session, alarm, now, dt.timedelta(seconds=extra))
    return created


def _schedule_one(
    session: Session, alarm: Alarm, now: dt.datetime, extra: dt.timedelta
) -> list[int]:
    created: list[int] = []
    contacts = session.scalars(
        select(Contact).where(Contact.worker_id == alarm.worker_id).order_by(Contact.position)
    )
    done = set(session.scalars(select(Delivery.contact_id).where(Delivery.alarm_id == alarm.id)))
    if done and someone_on_it(session, alarm.id):
        return created  # a contact answered "I'm on it": the ladder stops there
    for c in contacts:
        if c.id in done:
            continue
        if now - alarm.stored_at < extra + dt.timedelta(seconds=c.delay_s):
            break  # ordered: later contacts wait for earlier ones' delays
        d = Delivery(alarm_id=alarm.id, contact_id=c.id, next_attempt_at=now)
        session.add(d)
        session.flush()
        audit.record(
            session,
            "system",
            "escalated",
            alarm_id=alarm.id,
            details={"contact": c.name, "position": c.position, "delay_s": c.delay_s},
        )
        created.append(d.id)
    return created


def deliver_due(
    db: Database,
    notifier: Notifier,
    now: dt.datetime | None = None,
    links: LinkSigner | None = None,
) -> int:
    """Attempt every pending delivery that is due; returns how many were sent.

    The network call happens outside any transaction: a slow webhook must never hold the
    database (and so alarm ingest) hostage.
    """
    now = now or utcnow()
    with db.session() as s:
        due = list(
            s.scalars(
                select(Delivery.id).where(
                    Delivery.status == "pending", Delivery.next_attempt_at <= now
                )
            )
        )
    sent = 0
    for did in due:
        # Each delivery on its own: whatever one contact's channel, message or row raises is
        # recorded against that delivery and retried; the next contact is still notified.
        with jobs.isolated(None, "delivery", f"delivery {did}"):
            sent += _deliver_one(db, notifier, did, now, links)
    return sent


def _message(
    s: Session, did: int, links: LinkSigner | None
) -> tuple[Contact, dict[str, Any]] | None:
    d = s.get(Delivery, did)
    if d is None or d.status != "pending":
        return None
    contact, alarm = s.get(Contact, d.contact_id), s.get(Alarm, d.alarm_id)
    if contact is None or alarm is None:
        return None
    s.expunge(contact)
    message: dict[str, Any] = {"event": "vigil.alarm.escalated", "contact": contact.name}
    message["alarm"] = alarms.payload(s, alarm)
    if links is not None:
        # One link per delivery: the contact answers "I'm on it" or "can't help" with no account.
        message["respond_url"] = links.url(did, alarm.stored_at + LINK_TTL)
    return contact, message


def _deliver_one(
    db: Database, notifier: Notifier, did: int, now: dt.datetime, links: LinkSigner | None
) -> int:
    with db.session() as s:
        job = _message(s, did, links)
    if job is None:
        return 0
    contact, message = job
    error: str | None = None
    try:
        notifier.send(contact, message)
    except NotifyFailed as e:
        error = str(e)
    except Exception as e:  # noqa: BLE001 - a broken channel is a failed attempt, not a crash
        jobs.failed("delivery", f"delivery {did} to {contact.name}")
        error = f"{type(e).__name__}: {e}"
    with db.session() as s:
        d = s.get(Delivery, did)
        if d is None:
            return 0
        d.attempts += 1
        if error is None:
            d.status = "sent"
            d.sent_at = now
            audit.record(
                s,
                "system",
                "notified",
                alarm_id=d.alarm_id,
                details={"contact": contact.name, "attempts": d.attempts},
            )
            return 1
        d.last_error = error[:500]
        if d.attempts >= MAX_ATTEMPTS:
            d.status = "failed"
            audit.record(
                s,
                "system",
                "escalation_failed",
                alarm_id=d.alarm_id,
                details={"contact": contact.name, "error": error[:500]},
            )
        else:
            d.next_attempt_at = now + RETRY_BASE * (2 ** (d.attempts - 1))
    return 0
