"""Fob allocation: the spare pool, assigning a spare to a worker, swapping a worker's fob for a
spare, and returning a fob to the pool. Each change is one transaction and one audit entry, so
the device's page can show its history.

A spare is a fob allocated to nobody and not revoked; supervision ignores it (a fob on the shelf
is silent by design). A running check-in is supervised by the monitor against the fob, so a swap
carries it to the new fob, and returning a fob in the middle of one is refused: either would
otherwise end its supervision silently."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.errors import Conflict, NotFound
from monitor.models import Device, Worker
from monitor.services import audit
from monitor.services.scope import Scope


def spare_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Device)
            .where(Device.worker_id.is_(None), Device.revoked_at.is_(None))
        )
        or 0
    )


def _device(session: Session, device_id: int) -> Device:
    d = session.get(Device, device_id)
    if d is None:
        raise NotFound(f"device {device_id} does not exist")
    if d.revoked_at is not None:
        raise Conflict(f"device {device_id} is revoked: provision it again before use")
    return d


def _spare(session: Session, device_id: int) -> Device:
    d = _device(session, device_id)
    if d.worker_id is not None:
        raise Conflict(
            f"device {device_id} is not a spare: it is allocated to worker {d.worker_id}"
        )
    return d


def _worker(session: Session, view: Scope, worker_id: int) -> Worker:
    w = session.get(Worker, worker_id)
    if w is None:
        raise NotFound(f"worker {worker_id} does not exist")
    return view.check_worker(w)


def assign(session: Session, view: Scope, actor: str, device_id: int, worker_id: int) -> Device:
    d = _spare(session, device_id)
    w = _worker(session, view, worker_id)
    d.worker_id = w.id
    audit.record(
        session, actor, "device_assigned", subject=f"device:{d.id}", details={"worker_id": w.id}
    )
    return d


def swap(
    session: Session, view: Scope, actor: str, device_id: int, spare_id: int
) -> tuple[Device, Device]:
    """The worker of `device_id` gets `spare_id`; `device_id` goes back to the pool."""
    old = _device(session, device_id)
    if old.worker_id is None:
        raise Conflict(f"device {device_id} is a spare: assign it instead")
    w = _worker(session, view, old.worker_id)
    new = _spare(session, spare_id)
    new.worker_id, old.worker_id = w.id, None
    # The check-in the monitor was supervising goes with the worker, not with the fob.
    new.checkin_due_at, old.checkin_due_at = old.checkin_due_at, None
    new.visit_where, new.visit_with = old.visit_where, old.visit_with
    old.visit_where = old.visit_with = None
    old.reminded_due_at = None
    audit.record(
        session,
        actor,
        "device_swapped",
        subject=f"device:{old.id}",
        details={"worker_id": w.id, "replacement": new.id},
    )
    audit.record(
        session,
        actor,
        "device_assigned",
        subject=f"device:{new.id}",
        details={"worker_id": w.id, "replaces": old.id},
    )
    return old, new


def return_to_spares(session: Session, view: Scope, actor: str, device_id: int) -> Device:
    d = _device(session, device_id)
    if d.worker_id is None:
        raise Conflict(f"device {device_id} is already a spare")
    _worker(session, view, d.worker_id)
    if d.checkin_due_at is not None:
        raise Conflict(
            f"device {device_id} has a check-in running until {d.checkin_due_at:%H:%M} UTC: "
            "end it first, or swap the fob so the check-in stays supervised"
        )
    was = d.worker_id
    d.worker_id = None
    d.visit_where = d.visit_with = None
    audit.record(
        session, actor, "device_returned", subject=f"device:{d.id}", details={"worker_id": was}
    )
    return d
