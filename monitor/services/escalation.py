"""Escalation: an alarm nobody acknowledges walks down the worker's ordered contact list.

Deliveries are rows: created when due, attempted by a Notifier (monitor/channels/), retried
with backoff until MAX_ATTEMPTS, each attempt recorded. A failure the channel calls permanent
(a refused address, a 4xx, an unknown number) is dead-lettered at once: status "failed",
audited "escalation_failed". Every attempt is audited ("delivery_attempt") against the alarm,
with channel, outcome and error. A restart picks up pending deliveries where they were.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from monitor.channels.base import Notifier
from monitor.channels.webhook import WebhookChannel
from monitor.core import urgency
from monitor.core.config import Settings
from monitor.core.db import Database
from monitor.errors import NotifyFailed
from monitor.models import Alarm, Contact, Delivery, utcnow
from monitor.services import alarm_kinds as kinds
from monitor.services import alarms, audit, jobs
from monitor.services.responder_links import LINK_TTL, LinkSigner, someone_on_it
from monitor.services.wakeups import Waiters

__all__ = ["MAX_ATTEMPTS", "Notifier", "NotifyFailed", "WebhookNotifier", "deliver_due"]

MAX_ATTEMPTS = 6
RETRY_BASE = dt.timedelta(seconds=5)  # 5, 10, 20, 40, 80 s: a minute-long outage is ridden out

# The channel interface and the webhook channel live in monitor/channels/; these names stay
# for callers written before there was more than one channel.
WebhookNotifier = WebhookChannel


# Scheduler loops waiting for their next tick (services/scheduler.run), woken early by the commit
# of a new alarm.
WAITERS = Waiters()


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(alarms.ESCALATE_AFTER_COMMIT, False):
        WAITERS.wake()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(alarms.ESCALATE_AFTER_COMMIT, None)


def schedule(
    session: Session,
    now: dt.datetime | None = None,
    *,
    low_battery: bool = False,
    offline_delay_s: int = Settings.model_fields["offline_escalation_delay_s"].default,
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
        # An alarm being received goes first: a delivery is CPU and a transaction (urgency.py).
        urgency.gate.step_aside()
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
    permanent = False
    try:
        channel = notifier.channel_for(contact)
        notifier.send(contact, message)
    except NotifyFailed as e:
        error, permanent = str(e), e.permanent
    except Exception as e:  # noqa: BLE001 - a broken channel is a failed attempt, not a crash
        jobs.failed("delivery", f"delivery {did} to {contact.name}")
        error = f"{type(e).__name__}: {e}"
        channel = getattr(contact, "channel", None) or "webhook"
    with db.session() as s:
        d = s.get(Delivery, did)
        if d is None:
            return 0
        d.attempts += 1
        attempt: dict[str, Any] = {
            "contact": contact.name,
            "channel": channel,
            "attempt": d.attempts,
            "delivery_id": d.id,
        }
        if error is None:
            d.status = "sent"
            d.sent_at = now
            audit.record(
                s,
                "system",
                "delivery_attempt",
                alarm_id=d.alarm_id,
                details={**attempt, "outcome": "sent"},
            )
            audit.record(
                s,
                "system",
                "notified",
                alarm_id=d.alarm_id,
                details={"contact": contact.name, "attempts": d.attempts, "channel": channel},
            )
            return 1
        d.last_error = error[:500]
        if permanent or d.attempts >= MAX_ATTEMPTS:
            d.status = "failed"
            audit.record(
                s,
                "system",
                "delivery_attempt",
                alarm_id=d.alarm_id,
                details={
                    **attempt,
                    "outcome": "failed",
                    "permanent": permanent,
                    "error": error[:500],
                },
            )
            audit.record(
                s,
                "system",
                "escalation_failed",
                alarm_id=d.alarm_id,
                details={
                    "contact": contact.name,
                    "channel": channel,
                    "attempts": d.attempts,
                    "reason": "permanent" if permanent else "max_attempts",
                    "error": error[:500],
                },
            )
        else:
            d.next_attempt_at = now + RETRY_BASE * (2 ** (d.attempts - 1))
            audit.record(
                s,
                "system",
                "delivery_attempt",
                alarm_id=d.alarm_id,
                details={
                    **attempt,
                    "outcome": "retry",
                    "error": error[:500],
                    "next_attempt_at": d.next_attempt_at.isoformat(),
                },
            )
    return 0
