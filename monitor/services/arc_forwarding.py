"""Forwarding alarms to alarm receiving centres (ARCs) with SIA DC-09: durable, retried, visible.

- `enqueue` runs inside the transaction that stores the alarm (services/alarms.raise_alarm):
  one `arc_forwards` row per enabled receiver, with its DC-09 sequence number taken there and
  then. The alarm and its forwards commit together or not at all, so no alarm is stored
  without its forward.
- `forward_due` runs after commit, outside any transaction while on the network (the scheduler's
  forwarder loop, woken at once by the commit; services/scheduler.py). Before the bytes leave,
  the row is marked `sent` and committed; the ACK makes it `acked`. A process killed between the
  two leaves a `sent` row that goes stale and is sent again, with the same sequence number: the
  ARC may see the message twice (DC-09 allows a repeat and receivers discard it by sequence
  number) but never not at all.
- A refused, silent, NAK or DUH answer makes the row `failing` (with `failing_since`), tried
  again with backoff forever: an ARC that is down gets the alarm when it is back.
- `supervise` sends a NULL message to each receiver nothing has been acknowledged by for its
  `null_interval_s`, so the ARC notices a silent link and the monitor notices a dead ARC.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session

from monitor.arc import dc09, event_codes
from monitor.arc.transport import ACK_TIMEOUT_S, Link, ReceiverConfig
from monitor.core.db import Database
from monitor.errors import ArcUnreachable, DC09Error
from monitor.models import Alarm, ArcForward, ArcReceiver, Worker, utcnow
from monitor.services import audit, jobs
from monitor.services.events import queue_alarm_event
from monitor.services.wakeups import Waiters

PENDING, SENT, ACKED, FAILING = "pending", "sent", "acked", "failing"
RETRY_BASE_S = 1.0  # 1, 2, 4 ... s, capped: an ARC back after a minute's outage gets it in 30 s
RETRY_MAX_S = 30.0
# A `sent` row older than this was being sent by a process that died (or lost leadership)
# before the answer: the send can only still be in flight for ACK_TIMEOUT_S (twice, with a
# NAK resync, and once more on a reconnect).
STALE_SENT = dt.timedelta(seconds=4 * ACK_TIMEOUT_S)

# Set after a commit that created forwards: the forwarder loop sends at once instead of at the
# next tick (the bench's committed -> ACK figure is this wake-up plus one round trip).
WAKE = threading.Event()
# One sender at a time in this process: the forwarder loop and a test or bench driving
# forward_due directly must not send one row twice concurrently.
_SENDING = threading.Lock()
# Kept TCP connections, one per receiver, rebuilt when its settings change.
_links: dict[int, Link] = {}


# Forwarder loops waiting on their event loop (services/scheduler.forward_loop).
WAITERS = Waiters()


def wake() -> None:
    WAKE.set()
    WAITERS.wake()


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop("arc_wake", False):
        wake()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop("arc_wake", None)


def config_of(r: ArcReceiver) -> ReceiverConfig:
    """The row as transport settings; DC09Error says which setting is wrong."""
    try:
        key = bytes.fromhex(r.aes_key_hex) if r.aes_key_hex else None
    except ValueError as e:
        raise DC09Error(f"receiver {r.id}: aes_key_hex is not hex") from e
    return ReceiverConfig(
        host=r.host,
        port=r.port,
        protocol=r.protocol,
        prefix=dc09.Prefix(r.account, r.receiver_number, r.line_number),
        key=key,
    )


def _take_sequence(r: ArcReceiver) -> int:
    seq = r.next_sequence if 1 <= r.next_sequence <= dc09.SEQUENCE_MAX else 1
    r.next_sequence = dc09.next_sequence(seq)
    return seq


def enqueue(session: Session, alarm: Alarm) -> int:
    """Create the alarm's forwards in the caller's transaction; returns how many."""
    receivers = session.scalars(
        select(ArcReceiver)
        .where(ArcReceiver.enabled.is_(True))
        .order_by(ArcReceiver.id)
        .with_for_update()  # PostgreSQL: two alarms committing at once take distinct numbers
    ).all()
    now = utcnow()
    for r in receivers:
        session.add(
            ArcForward(
                alarm_id=alarm.id,
                receiver_id=r.id,
                sequence=_take_sequence(r),
                state=PENDING,
                attempts=0,
                next_attempt_at=now,
            )
        )
    if receivers:
        session.flush()
        session.info["arc_wake"] = True
    return len(receivers)


def state(session: Session, alarm_id: int) -> dict[str, Any] | None:
    """The `arc` part of an alarm's payload: None when it goes to no ARC. With several
    receivers, the least advanced forward speaks for all (an operator must see a failing one)."""
    rows = session.scalars(
        select(ArcForward).where(ArcForward.alarm_id == alarm_id).order_by(ArcForward.id)
    ).all()
    if not rows:
        return None
    order = {FAILING: 0, PENDING: 1, SENT: 2, ACKED: 3}
    worst = min(rows, key=lambda f: order.get(f.state, 0))
    return {
        "state": worst.state,
        "sent_at": _iso(worst.sent_at),
        "acked_at": _iso(worst.acked_at),
        "failing_since": _iso(worst.failing_since),
        "attempts": sum(f.attempts for f in rows),
        "last_error": worst.last_error,
        "receivers": len(rows),
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def event_for(alarm: Alarm, worker: Worker | None) -> dc09.Event:
    """The alarm as an SIA DC-04 event: code by kind, the device as the zone, the worker as the
    user, and extended data with when, where and who (docs/arc-forwarding.md)."""
    xdata: list[tuple[str, str]] = [("H", dc09.timestamp(alarm.raised_at).lstrip("_"))]
    if alarm.lat is not None and alarm.lon is not None:
        xdata += [("X", f"{alarm.lon:.6f}"), ("Y", f"{alarm.lat:.6f}")]
    if alarm.visit_where:
        xdata.append(("L", alarm.visit_where))
    who = f"worker W{worker.id} {worker.name}" if worker else "no worker allocated"
    xdata.append(("I", f"Vigil {alarm.kind} alarm {alarm.id}; {who}"))
    return dc09.Event(
        code=event_codes.code_for(alarm.kind),
        zone=alarm.device_id or 0,
        user=alarm.worker_id,
        xdata=tuple(xdata),
    )


def _link(receiver_id: int, config: ReceiverConfig) -> Link:
    link = _links.get(receiver_id)
    if link is None or link.config != config:
        if link is not None:
            link.close()
        link = _links[receiver_id] = Link(config)
    return link


def close_links() -> None:
    for link in _links.values():
        link.close()
    _links.clear()


def forward_due(db: Database, now: dt.datetime | None = None) -> int:
    """Send every forward that is due; returns how many the ARC acknowledged."""
    with _SENDING:
        WAKE.clear()
        now = now or utcnow()
        with db.session() as s:
            due = s.execute(
                select(ArcForward.id, ArcForward.receiver_id)
                .where(
                    or_(
                        (ArcForward.state.in_((PENDING, FAILING)))
                        & (ArcForward.next_attempt_at <= now),
                        (ArcForward.state == SENT) & (ArcForward.sent_at <= now - STALE_SENT),
                    )
                )
                .order_by(ArcForward.id)
            ).all()
        acked = 0
        down: set[int] = set()
        for fid, rid in due:
            if rid in down:
                continue  # its ARC just failed: the rest wait their turn, not a timeout each
            with jobs.isolated(None, "arc", f"forward {fid}"):
                ok = _forward_one(db, fid, now)
                acked += ok is True
                if ok is False:
                    down.add(rid)
        return acked


def _forward_one(db: Database, fid: int, now: dt.datetime) -> bool | None:
    """True: acknowledged; False: failed (recorded); None: nothing to do."""
    with db.session() as s:
        f = s.get(ArcForward, fid)
        if f is None or f.state == ACKED:
            return None
        r = s.get(ArcReceiver, f.receiver_id)
        alarm = s.get(Alarm, f.alarm_id)
        if r is None or alarm is None or not r.enabled:
            return None
        worker = s.get(Worker, alarm.worker_id) if alarm.worker_id else None
        error: str | None = None
        try:
            config = config_of(r)
            ev = event_for(alarm, worker)
        except DC09Error as e:
            error = e.message
        # Committed before the bytes leave: if this process dies now, the row is `sent` with
        # its sequence number and a later forward_due sends it again (see the module doc).
        f.state, f.sent_at, f.attempts = SENT, now, f.attempts + 1
        seq, rid = f.sequence, r.id
    if error is None:
        try:
            _link(rid, config).send(seq, ev)
        except (ArcUnreachable, DC09Error) as e:
            error = e.message
        except OSError as e:  # a socket error the transport did not foresee
            error = f"{type(e).__name__}: {e}"
    _record(db, fid, rid, error)
    return error is None


def _record(db: Database, fid: int, rid: int, error: str | None) -> None:
    at = utcnow()
    with db.session() as s:
        f, r = s.get(ArcForward, fid), s.get(ArcReceiver, rid)
        if f is None or r is None:
            return
        _record_one(s, f, r, at, error)
        # The console and the stream show the new state at once, as for any alarm change.
        from monitor.services import alarms  # alarms imports this module

        alarm = s.get(Alarm, f.alarm_id)
        if alarm is not None:
            s.flush()
            queue_alarm_event(s, alarms.payload(s, alarm))


def _record_one(
    s: Session, f: ArcForward, r: ArcReceiver, at: dt.datetime, error: str | None
) -> None:
    if error is None:
        f.state, f.acked_at, f.last_error = ACKED, at, None
        r.last_ack_at, r.failing_since, r.last_error = at, None, None
        audit.record(
            s,
            "system",
            "arc_acknowledged",
            alarm_id=f.alarm_id,
            details={"receiver": r.name, "sequence": f.sequence, "attempts": f.attempts},
        )
        return
    first = f.failing_since is None
    f.state, f.last_error = FAILING, error[:500]
    f.failing_since = f.failing_since or at
    delay = min(RETRY_MAX_S, RETRY_BASE_S * 2 ** max(0, f.attempts - 1))
    f.next_attempt_at = at + dt.timedelta(seconds=delay)
    r.failing_since, r.last_error = r.failing_since or at, error[:500]
    if first:  # once per forward, not per retry: the timeline shows it, not a flood
        audit.record(
            s,
            "system",
            "arc_failing",
            alarm_id=f.alarm_id,
            details={"receiver": r.name, "sequence": f.sequence, "error": error[:500]},
        )


def supervise(db: Database, now: dt.datetime | None = None) -> int:
    """A NULL message to each receiver quiet for its interval; returns how many were ACKed."""
    with _SENDING:
        now = now or utcnow()
        with db.session() as s:
            quiet = [
                r.id
                for r in s.scalars(select(ArcReceiver).where(ArcReceiver.enabled.is_(True)))
                if r.null_interval_s > 0
                and (
                    r.last_ack_at is None
                    or now - r.last_ack_at >= dt.timedelta(seconds=r.null_interval_s)
                )
                # A failing receiver is retried by its forwards' backoff, and by NULLs no more
                # often than every RETRY_MAX_S.
                and (r.failing_since is None or _last_try_old(r, now))
            ]
        ok = 0
        for rid in quiet:
            with jobs.isolated(None, "arc", f"supervision of receiver {rid}"):
                ok += _null_one(db, rid)
        return ok


_null_tried: dict[int, dt.datetime] = {}


def _last_try_old(r: ArcReceiver, now: dt.datetime) -> bool:
    last = _null_tried.get(r.id)
    return last is None or now - last >= dt.timedelta(seconds=RETRY_MAX_S)


def _null_one(db: Database, rid: int) -> int:
    with db.session() as s:
        r = s.get(ArcReceiver, rid, with_for_update=True)
        if r is None:
            return 0
        config = config_of(r)
        seq = _take_sequence(r)
    _null_tried[rid] = utcnow()
    error: str | None = None
    try:
        _link(rid, config).send(seq, None)
    except (ArcUnreachable, DC09Error) as e:
        error = e.message
    except OSError as e:
        error = f"{type(e).__name__}: {e}"
    at = utcnow()
    with db.session() as s:
        r = s.get(ArcReceiver, rid)
        if r is None:
            return 0
        if error is None:
            r.last_ack_at, r.failing_since, r.last_error = at, None, None
            return 1
        r.failing_since, r.last_error = r.failing_since or at, f"NULL: {error}"[:500]
        return 0


def health(session: Session) -> list[dict[str, Any]]:
    """Each receiver's link as the organisation's health shows it."""
    out = []
    for r in session.scalars(select(ArcReceiver).order_by(ArcReceiver.id)):
        waiting = session.scalars(
            select(ArcForward.id).where(ArcForward.receiver_id == r.id, ArcForward.state != ACKED)
        ).all()
        out.append(
            {
                "id": r.id,
                "name": r.name,
                "enabled": r.enabled,
                "protocol": r.protocol,
                "encrypted": bool(r.aes_key_hex),
                "last_ack_at": _iso(r.last_ack_at),
                "failing_since": _iso(r.failing_since),
                "last_error": r.last_error,
                "unacknowledged": len(waiting),
            }
        )
    return out


def add_receiver(
    session: Session,
    actor: str,
    *,
    name: str,
    host: str,
    port: int,
    account: str,
    protocol: str = "tcp",
    receiver_number: str = "0",
    line_number: str = "0",
    aes_key_hex: str | None = None,
    null_interval_s: int = 60,
) -> ArcReceiver:
    """Configure an ARC; settings the transport would refuse are refused here (DC09Error)."""
    if not 0 < port < 65536:
        raise DC09Error(f"port {port} is not a TCP/UDP port")
    if null_interval_s < 0:
        raise DC09Error("null_interval_s is 0 (off) or a number of seconds")
    r = ArcReceiver(
        name=name,
        host=host,
        port=port,
        protocol=protocol,
        account=account.upper(),
        receiver_number=receiver_number.upper(),
        line_number=line_number.upper(),
        aes_key_hex=aes_key_hex.upper() if aes_key_hex else None,
        null_interval_s=null_interval_s,
        enabled=True,
        next_sequence=1,
    )
    config_of(r)  # raises on a bad account, number, key or protocol
    session.add(r)
    session.flush()
    audit.record(session, actor, "arc_receiver_added", subject=name, details={"id": r.id})
    return r
