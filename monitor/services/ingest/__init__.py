"""Ingest of relayed uplink frames: verify, replay-check, dedupe, store, act, ack.

One batch is one transaction: each accepted frame's replay-window update, its frame record and
the alarm it raises commit together, so a crash can neither lose an accepted alarm nor leave a
window that refuses its resend. Bad frames get a per-frame reason and a counter; they never
abort the batch.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy import Select, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.core.crypto import KeyBox
from monitor.models import Alarm, Device, FrameRecord, RejectionCount, utcnow
from monitor.services import alarm_kinds as kinds
from monitor.services import alarms, audit, downlinks
from protocol import frame_types as ft
from protocol import frames
from protocol.errors import ProtocolError, Stale
from protocol.replay import ReplayWindow

# A gateway clock ahead of ours by more than this is not believed: received_at is clamped to
# our time so an alarm can never appear to come from the future.
CLOCK_SKEW_TOLERANCE = dt.timedelta(seconds=5)
# How far back a gateway may say it heard a frame: a relay offline over a long weekend still
# delivers its backlog with its own times. Anything older is not believed either (a clock
# reset to 2001, a crafted year 1): clamped to our time and flagged, so it can neither sort an
# alarm out of sight nor stretch a time-to-acknowledge.
MAX_RELAY_DELAY = dt.timedelta(days=7)
# Accuracy beyond this is no position at all (a cell-tower fix is a few km).
MAX_ACCURACY_M = 100_000.0
MAX_BATCH = 1000  # frames per request; a gateway with a bigger backlog sends several batches
# A fix older than a day says nothing about where the worker is now.
MAX_FIX_AGE_S = 86_400

# SQLite has one writer: serialise ingest in-process instead of racing for the file lock.
_sqlite_lock = threading.Lock()

_RESEND_MAY_CHANGE = ("age_s", "age_lower_bound")
_LOCATED = set(kinds.FROM_FRAME) | {ft.CHECKIN_START, ft.CHECKIN_STOP}


class Location(BaseModel):
    """A position the gateway asserts (unsigned: the fob has no GPS). Finite and on Earth.
    `source`: the phone's own GPS fix, or a relay's configured site; not said by older
    gateways. `fix_age_s`: how old the fix was when the gateway relayed the frame."""

    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(None, ge=0, le=MAX_ACCURACY_M)
    source: Literal["phone_gps", "gateway_site"] | None = None
    fix_age_s: int | None = Field(None, ge=0, le=MAX_FIX_AGE_S, strict=True)


class FrameIn(BaseModel):
    """One relayed item. Only `frame` is signed; the rest is the gateway's word, checked field
    by field in `_relayed` so a bad value costs that value, never the fob's alarm."""

    frame: str  # any length: the body limit bounds it, and peek names a wrong one bad_length
    received_at: Any = None
    link: Any = None
    rssi: Any = None
    location: Any = None


_LOCATION: TypeAdapter[Location] = TypeAdapter(Location)
_LINKS = frozenset(("serial", "ble"))
_RSSI_RANGE = range(-127, 21)  # dBm as BLE reports it; anything else is not a reading
@dataclass
class Relayed:
    """The gateway's unsigned fields after checking: each bad one replaced and named in
    `flags` (counted like a rejection reason; the frame itself is still verified and kept)."""

    received_at: dt.datetime
    received_at_clamped: bool = False
    link: str | None = None
    rssi: int | None = None
    location: Location | None = None
    flags: list[str] = field(default_factory=list)


def _relayed(item: FrameIn, now: dt.datetime) -> Relayed:
    # Plain checks for the fields on every heartbeat (most of the traffic): this runs per frame.
    out = Relayed(received_at=now)
    try:
        at = dt.datetime.fromisoformat(item.received_at)
        if at.tzinfo is None:
            raise ValueError("no time zone: whose clock?")
        if now - MAX_RELAY_DELAY <= at <= now + CLOCK_SKEW_TOLERANCE:
            out.received_at = at.astimezone(dt.UTC)
        else:
            out.received_at_clamped = True
            out.flags.append("clamped_received_at")
    except (ValueError, TypeError, OverflowError):
        # Missing or unreadable: our own clock stands in, flagged like a clamp.
        out.received_at_clamped = True
        out.flags.append("bad_received_at")
    if item.link is not None:
        if isinstance(item.link, str) and item.link in _LINKS:
            out.link = item.link
        else:
            out.flags.append("bad_link")
    if item.rssi is not None:
        if type(item.rssi) is int and item.rssi in _RSSI_RANGE:
            out.rssi = item.rssi
        else:
            out.flags.append("bad_rssi")
    if item.location is not None:
        try:
            out.location = _LOCATION.validate_python(item.location)
        except ValidationError:
            out.flags.append("bad_location")
    return out


@dataclass
class Result:
    status: str
    reason: str | None = None
    device_id: int | None = None
    counter: int | None = None
    ack: str | None = None
    # Unsigned fields the monitor did not believe (see `Relayed`); the frame was still taken.
    flags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "device_id": self.device_id,
            "counter": self.counter,
            "ack": self.ack,
            "flags": self.flags,
        }


@dataclass
class _Parsed:
    index: int
    item: Relayed
    raw: bytes
    ftype: int
    device_id: int
    counter: int


@dataclass
class _Batch:
    results: list[Result | None]
    parsed: list[_Parsed] = field(default_factory=list)
    rejections: dict[str, int] = field(default_factory=dict)
    last_rejected: dict[str, tuple[int | None]] = field(default_factory=dict)


def _count(batch: _Batch, reason: str, dev: int | None) -> None:
    batch.rejections[reason] = batch.rejections.get(reason, 0) + 1
    batch.last_rejected[reason] = (dev,)


def _reject(batch: _Batch, i: int, reason: str, dev: int | None = None, ctr: int | None = None):  # type: ignore[no-untyped-def]
    batch.results[i] = Result("rejected", reason, dev, ctr)
    _count(batch, reason, dev)


def _taken(batch: _Batch, p: _Parsed, result: Result) -> None:
    # Field flags are counted only for frames that verified: a forged frame is one rejection.
    result.flags = p.item.flags
    batch.results[p.index] = result
    for reason in p.item.flags:
        _count(batch, reason, p.device_id)


def _parse(items: list[Any], now: dt.datetime) -> _Batch:
    batch = _Batch(results=[None] * len(items))
    for i, raw_item in enumerate(items):
        try:
            item = FrameIn.model_validate(raw_item)
            raw = bytes.fromhex(item.frame)
        except (ValidationError, ValueError, TypeError):
            _reject(batch, i, "malformed")
            continue
        try:
            ftype, device_id, counter = frames.peek(raw)
        except ProtocolError as e:
            _reject(batch, i, e.reason)
            continue
        if ft.direction(ftype) != ft.UPLINK:
            _reject(batch, i, "wrong_direction", device_id, counter)
            continue
        batch.parsed.append(_Parsed(i, _relayed(item, now), raw, ftype, device_id, counter))
    return batch


# The columns ingest touches on every frame, read and written with Core (no ORM identity map):
# heartbeats are nearly all the traffic and need nothing else.
_HOT = (
    "id",
    "key_sealed",
    "revoked_at",
    "replay_highest",
    "replay_bitmap",
    "downlink_counter",
    "last_seen_at",
    "last_gateway_id",
    "last_link",
    "battery_pct",
    "last_flags",
    "outbox_depth",
)
_WRITTEN = _HOT[3:]


class DeviceState:
    """One device's hot columns for the length of a batch; written back in one bulk UPDATE."""

    __slots__ = _HOT + ("touched", "moved")

    def __init__(self, row: Any) -> None:
        self.id: int = row.id
        self.key_sealed: bytes = row.key_sealed
        self.revoked_at: dt.datetime | None = row.revoked_at
        self.replay_highest: int = row.replay_highest
        self.replay_bitmap: int = row.replay_bitmap
        self.downlink_counter: int = row.downlink_counter or 0
        self.last_seen_at: dt.datetime | None = row.last_seen_at
        self.last_gateway_id: int | None = row.last_gateway_id
        self.last_link: str | None = row.last_link
        self.battery_pct: int | None = row.battery_pct
        self.last_flags: int | None = row.last_flags
        self.outbox_depth: int | None = row.outbox_depth
        self.touched = False
        self.moved = False  # now heard through another gateway than before this batch

    def changes(self) -> dict[str, Any]:
        return {"id": self.id, **{n: getattr(self, n) for n in _WRITTEN}}


def _lock_devices(session: Session, ids: set[int]) -> dict[int, DeviceState]:
    cols = [getattr(Device, n) for n in _HOT]
    stmt = select(*cols).where(Device.id.in_(ids)).order_by(Device.id)
    if session.get_bind().dialect.name == "postgresql":
        # Row locks serialise concurrent batches (several instances, several gateways) per
        # device so each replay window is read-modify-written atomically.
        stmt = stmt.with_for_update()
    return {r.id: DeviceState(r) for r in session.execute(stmt)}


def _known_frames(session: Session, parsed: list[_Parsed]) -> dict[tuple[int, int], bytes]:
    keys = {(p.device_id, p.counter) for p in parsed}
    if not keys:
        return {}
    # Two plain IN lists, not a row-value IN: SQLite answers this from the (device_id, counter)
    # unique index, where a tuple IN scans the whole table and slows as history grows. The
    # cross product may match a few extra rows; the exact pairs are picked out below.
    rows = session.execute(known_frames_statement(keys))
    return {(r[0], r[1]): bytes(r[2]) for r in rows if (r[0], r[1]) in keys}


def known_frames_statement(keys: set[tuple[int, int]]) -> Select[int, int, bytes]:
    return select(FrameRecord.device_id, FrameRecord.counter, FrameRecord.raw).where(
        FrameRecord.device_id.in_(sorted({k[0] for k in keys})),
        FrameRecord.counter.in_(sorted({k[1] for k in keys})),
    )


def _resent(seen: bytes, frame: frames.Frame, key: bytes) -> bool:
    """The fob signs every send afresh with the alarm's current age (firmware `frame_for`) and
    marks the age a lower bound after a reboot, so a resend after a lost ack differs from the
    stored frame in those fields only. Anything else under the same counter is a reused one."""
    try:
        first = frames.decode(seen, key, ft.UPLINK)
    except ProtocolError:
        return False
    a, b = first.as_dict(), frame.as_dict()
    for name in _RESEND_MAY_CHANGE:
        a.pop(name, None)
        b.pop(name, None)
    return bool(a == b)


def _count_rejections(
    session: Session, batch: _Batch, gateway_id: int | None, now: dt.datetime
) -> None:
    # An upsert: two instances meeting a new reason at once must not collide on the insert
    # (that would fail the batch, good frames included).
    dialect = session.get_bind().dialect.name
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    for reason, n in batch.rejections.items():
        values = {
            "reason": reason,
            "count": n,
            "last_at": now,
            "last_device_id": batch.last_rejected[reason][0],
            "last_gateway_id": gateway_id,
        }
        stmt = insert_(RejectionCount).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[RejectionCount.reason],
            set_={
                "count": RejectionCount.count + n,
                "last_at": stmt.excluded.last_at,
                "last_device_id": stmt.excluded.last_device_id,
                "last_gateway_id": stmt.excluded.last_gateway_id,
            },
        )
        session.execute(stmt)


def ingest(
    session: Session,
    keybox: KeyBox,
    items: list[Any],
    gateway_id: int | None,
    now: dt.datetime | None = None,
    scope_worker_id: int | None = None,
) -> list[dict[str, Any]]:
    """Process and commit one batch; returns one result per item, in order. With
    `scope_worker_id` (a phone's gateway), frames from devices not allocated to that worker
    are rejected one by one as `out_of_scope`."""
    now = now or utcnow()
    batch = _parse(items, now)
    if session.get_bind().dialect.name == "sqlite":
        with _sqlite_lock:
            _apply(session, keybox, batch, gateway_id, now, scope_worker_id)
            session.commit()
    else:
        _apply(session, keybox, batch, gateway_id, now, scope_worker_id)
        session.commit()
    return [r.as_dict() for r in batch.results if r is not None]


def _in_scope(session: Session, ids: set[int], worker_id: int | None) -> set[int] | None:
    """The devices of the batch a scoped gateway may relay; None when it is not scoped. One
    query per batch and only for phones: a relay's batch costs nothing more."""
    if worker_id is None:
        return None
    if not ids:
        return set()
    return set(
        session.scalars(select(Device.id).where(Device.id.in_(ids), Device.worker_id == worker_id))
    )


def _apply(
    session: Session,
    keybox: KeyBox,
    batch: _Batch,
    gateway_id: int | None,
    now: dt.datetime,
    scope_worker_id: int | None = None,
) -> None:
    ids = {p.device_id for p in batch.parsed}
    scope = _in_scope(session, ids, scope_worker_id)
    if scope is not None:
        # Before anything else about the frame, unknown devices included: a phone learns
        # nothing about fobs that are not its worker's, and never moves their downlinks.
        for p in batch.parsed:
            if p.device_id not in scope:
                _reject(batch, p.index, "out_of_scope", p.device_id, p.counter)
        batch.parsed = [p for p in batch.parsed if p.device_id in scope]
        ids &= scope
    devices = _lock_devices(session, ids)
    known = _known_frames(session, batch.parsed)
    windows: dict[int, ReplayWindow] = {}
    new_rows: list[dict[str, Any]] = []
    accepted: list[tuple[_Parsed, frames.Frame, DeviceState]] = []
    for p in batch.parsed:
        device = devices.get(p.device_id)
        if device is None:
            _reject(batch, p.index, "unknown_device", p.device_id, p.counter)
            continue
        if device.revoked_at is not None:
            _reject(batch, p.index, "revoked_device", p.device_id, p.counter)
            continue
        try:
            key = keybox.open(device.id, device.key_sealed)
        except InvalidTag:
            # A sealed key that will not open (a tampered row, a restore under another master
            # key) is our fault, not the frame's. Refuse this one frame (no ack: the fob keeps
            # it and resends) and count it for admins, rather than fail the whole batch and
            # hold back every other fob's alarm in it.
            _reject(batch, p.index, "key_unavailable", p.device_id, p.counter)
            continue
        try:
            frame = frames.decode(p.raw, key, ft.UPLINK)
        except ProtocolError as e:
            _reject(batch, p.index, e.reason, p.device_id, p.counter)
            continue
        seen = known.get((p.device_id, p.counter))
        if seen is not None:
            if seen == p.raw or _resent(seen, frame, key):
                # Already stored (another gateway, or a resend after a lost ack): ack again.
                ack = downlink_ack(keybox, device, p.counter)
                _taken(batch, p, Result("duplicate", None, p.device_id, p.counter, ack))
            else:
                # Same counter, different signed content: the fob reused a counter.
                _reject(batch, p.index, "replayed", p.device_id, p.counter)
            continue
        window = windows.get(device.id)
        if window is None:
            window = windows[device.id] = ReplayWindow(device.replay_highest, device.replay_bitmap)
        try:
            window.accept(p.counter)
        except Stale as e:
            # Behind the window, verified, and never stored (`known` above holds every frame
            # ever accepted), so it cannot replay anything. A fob holds its alarms, cancels
            # and check-ins in flash and resends them until acked, and every reboot moves its
            # counter on a whole block: two reboots while the link is down put a held SOS
            # behind the window for good. Refusing it lost that alarm (the fault suite found
            # it). Heartbeats are not held, so a stale one is still refused.
            if p.ftype == ft.HEARTBEAT:
                _reject(batch, p.index, e.reason, p.device_id, p.counter)
                continue
            p.item.flags.append("behind_window")
        except ProtocolError as e:
            _reject(batch, p.index, e.reason, p.device_id, p.counter)
            continue
        known[(p.device_id, p.counter)] = p.raw
        new_rows.append(
            {
                "device_id": device.id,
                "counter": p.counter,
                "ftype": p.ftype,
                "raw": p.raw,
                "gateway_id": gateway_id,
                "link": p.item.link,
                "rssi": p.item.rssi,
                "received_at": p.item.received_at,
                "stored_at": now,
            }
        )
        accepted.append((p, frame, device))
        ack = downlink_ack(keybox, device, p.counter)
        _taken(batch, p, Result("accepted", None, p.device_id, p.counter, ack))
    for device_id, window in windows.items():
        d = devices[device_id]
        d.replay_highest, d.replay_bitmap = window.state()
    for p, frame, d in accepted:
        _update_hot(d, p, frame, gateway_id)
    touched = [d.changes() for d in devices.values() if d.touched]
    if touched:
        session.execute(update(Device), touched)
    if new_rows:
        session.execute(insert(FrameRecord), new_rows)
    moved = [d.id for d in devices.values() if d.moved]
    if moved:
        # Downlinks go to the gateway that last heard the fob: bring the pending ones along.
        downlinks.follow(session, moved, now)
    # One query for the batch instead of one per frame: heartbeats are most of the traffic.
    offline = set(
        session.scalars(
            select(Alarm.device_id).where(
                Alarm.device_id.in_({d.id for _, _, d in accepted}),
                Alarm.kind == kinds.DEVICE_OFFLINE,
                Alarm.status != alarms.RESOLVED,
            )
        )
    )
    for p, frame, d in accepted:
        if p.ftype == ft.HEARTBEAT and d.id not in offline and not frame.fields[1] & ft.HB_BOOTED:
            continue
        # The rare frames (alarms, cancels, check-ins, returns from offline) use the ORM,
        # loaded after the bulk UPDATE so it sees this batch's state.
        orm_device = session.get(Device, d.id, populate_existing=True)
        assert orm_device is not None
        with session.no_autoflush:
            _act(session, keybox, orm_device, p, frame, gateway_id, d.id in offline, now)
        offline.discard(d.id)
    _count_rejections(session, batch, gateway_id, now)
    session.flush()


def _update_hot(d: DeviceState, p: _Parsed, frame: frames.Frame, gateway_id: int | None) -> None:
    d.touched = True
    received = p.item.received_at
    if d.last_seen_at is None or received > d.last_seen_at:
        if gateway_id is not None and d.last_gateway_id != gateway_id:
            d.moved = True
        d.last_seen_at = received
        d.last_gateway_id = gateway_id
        d.last_link = p.item.link
    fields = frame.fields
    if p.ftype == ft.HEARTBEAT:
        d.battery_pct, d.last_flags, d.outbox_depth = fields[0], fields[1], fields[2]
    elif ft.layout(p.ftype) == ft.ALARM_BODY and p.ftype != ft.TEST:
        d.battery_pct = fields[0] & 0x7F


def downlink_ack(keybox: KeyBox, device: DeviceState, counter: int) -> str:
    # ACKs go back in the HTTP response, not the downlink queue: the gateway that relayed the
    # frame is the one still connected to the fob.
    device.touched = True  # the new downlink counter is written back with the batch
    return downlinks.sign(keybox, device, ft.ACK, (counter,)).hex()


def _resend_help_after_reboot(session: Session, keybox: KeyBox, device: Device) -> None:
    # The fob restarted: an ACK_HELP delivered while it was losing power was never shown, and the
    # fob does not confirm it. Say it again for every alarm an operator is still handling; the
    # fob plays "help is coming" once per alarm per boot, so a repeat costs one downlink.
    handling = session.scalars(
        select(Alarm).where(
            Alarm.device_id == device.id,
            Alarm.status == alarms.ACKNOWLEDGED,
            Alarm.source_counter.is_not(None),
        )
    )
    for alarm in handling:
        for counter in alarms.help_counters(session, alarm):
            downlinks.ack_help(session, keybox, device, counter, alarm.id)
        alarms.attach(session, alarm, f"device:{device.id}", "help_resent_after_reboot")


def _act(
    session: Session,
    keybox: KeyBox,
    device: Device,
    p: _Parsed,
    frame: frames.Frame,
    gateway_id: int | None,
    was_offline: bool,
    now: dt.datetime,
) -> None:
    info = frame.as_dict()
    received = p.item.received_at
    actor = f"device:{device.id}"
    age = dt.timedelta(seconds=int(info.get("age_s", 0)))
    raised = received - age
    loc = p.item.location if p.ftype in _LOCATED else None
    # A fix fix_age_s old at relay says where the worker was then, not when the fob raised.
    fix_at = (
        received - dt.timedelta(seconds=loc.fix_age_s)
        if loc is not None and loc.fix_age_s is not None
        else raised
    )
    if loc is not None and (device.last_location_at is None or fix_at >= device.last_location_at):
        device.last_lat, device.last_lon = loc.lat, loc.lon
        device.last_accuracy_m = loc.accuracy_m
        device.last_location_source = loc.source
        device.last_location_at = fix_at
    offline = alarms.open_alarm(session, device.id, kinds.DEVICE_OFFLINE) if was_offline else None
    if offline is not None:
        # The device is back: supervision's alarm clears itself, with the evidence on record.
        alarms.resolve(
            session,
            keybox,
            offline.id,
            "system",
            "device_returned",
            f"{frame.name} #{frame.counter} received via gateway {gateway_id}",
        )
    if p.ftype == ft.HEARTBEAT:
        if frame.fields[1] & ft.HB_BOOTED:
            _resend_help_after_reboot(session, keybox, device)
        return
    if p.ftype in kinds.FROM_FRAME:
        kind = kinds.FROM_FRAME[p.ftype]
        visit = None
        if kind == kinds.CHECKIN_OVERDUE:
            device.checkin_due_at = None
            visit = alarms.take_visit(device)
        existing = alarms.open_alarm(session, device.id, kind) if kind in kinds.COALESCED else None
        if existing is not None:
            alarms.attach(session, existing, actor, "repeated_by_fob", counter=frame.counter)
            return
        alarm = alarms.raise_alarm(
            session,
            kind=kind,
            device=device,
            raised_at=raised,
            received_at=received,
            received_at_clamped=p.item.received_at_clamped,
            stored_at=now,
            actor=actor,
            source_counter=frame.counter,
            age_lower_bound=bool(info.get("age_lower_bound")),
            detail=info.get("detail"),
            battery_pct=info.get("battery_pct"),
            location=loc.model_dump() if loc else None,
            gateway_id=gateway_id,
            link=p.item.link,
            visit=visit,
        )
        _attach_early_cancel(session, device, alarm, frame.counter)
    elif p.ftype in (ft.SOS_CANCEL, ft.FALL_CANCELLED):
        target = session.scalars(
            select(Alarm).where(
                Alarm.device_id == device.id, Alarm.source_counter == info["cancels_counter"]
            )
        ).first()
        if target is not None:
            alarms.cancel_from_fob(session, target, actor, raised)
        # else: the cancel overtook its alarm (reordered relays); the alarm picks it up.
    elif p.ftype == ft.CHECKIN_START:
        device.checkin_due_at = raised + dt.timedelta(minutes=info["duration_min"])
        audit.record(
            session,
            actor,
            "checkin_started",
            subject=f"device:{device.id}",
            details={"due_at": device.checkin_due_at.isoformat()},
        )
    elif p.ftype == ft.CHECKIN_STOP:
        device.checkin_due_at = None
        device.visit_where = device.visit_with = None
        audit.record(session, actor, "checkin_stopped", subject=f"device:{device.id}")
        overdue = alarms.open_alarm(session, device.id, kinds.CHECKIN_OVERDUE)
        if overdue is not None:
            alarms.attach(session, overdue, actor, "worker_checked_out")
    elif p.ftype == ft.TEST:
        device.test_ok_at = received
        audit.record(session, actor, "test_frame", subject=f"device:{device.id}")


def _attach_early_cancel(session: Session, device: Device, alarm: Alarm, counter: int) -> None:
    # A cancel relayed before its alarm (another gateway was faster) is already stored: find it.
    rows = session.execute(
        select(FrameRecord.counter, FrameRecord.raw).where(
            FrameRecord.device_id == device.id,
            FrameRecord.ftype.in_((ft.SOS_CANCEL, ft.FALL_CANCELLED)),
            FrameRecord.counter > counter,
        )
    )
    for ctr, raw in rows:
        delta = int.from_bytes(bytes(raw)[8:10], "big")
        if ctr - delta == counter:
            age = int.from_bytes(bytes(raw)[10:12], "big")
            received = session.scalar(
                select(FrameRecord.received_at).where(
                    FrameRecord.device_id == device.id, FrameRecord.counter == ctr
                )
            )
            at = (received or utcnow()) - dt.timedelta(seconds=age)
            alarms.cancel_from_fob(session, alarm, f"device:{device.id}", at)
            return
