"""One batch through ingest: parse → scope → device → verify → dedupe → replay window → store →
act → ack.

A batch is committed alarms first (`parts`): every frame of the devices that sent an alarm,
cancel or check-in, in one transaction; then the other devices' heartbeats. On SQLite the alarm
part takes the one writer before any bulk waiting for it (writer_lock.py), and the heartbeats
are applied a chunk of devices at a time (`device_chunks`), committed and the writer let go
whenever an alarm or another gateway's bulk waits: nobody waits longer than one chunk, and an
unwaited-for batch is still one transaction. While an alarm request is in flight, bulk work in
this process steps aside at those same points (`urgent_gate`), so the alarm has the interpreter
as well as the writer.

Each transaction commits its frames' replay-window updates, frame records and the alarms they
raise together, so a crash can neither lose an accepted alarm nor leave a window that refuses
its resend; a crash between two leaves the alarms stored, and the gateway's resend of the batch
is acked again as duplicates. Bad frames get a per-frame reason and a counter; they never abort
the batch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.core import urgency
from monitor.core.crypto import KeyBox
from monitor.core.urgency import GateEntry
from monitor.models import Alarm, Device, utcnow
from monitor.services import alarm_kinds as kinds
from monitor.services import alarms, downlinks
from monitor.services.ingest import driver_rows, reasons, signing
from monitor.services.ingest.actions import act
from monitor.services.ingest.batch import ACCEPTED, DUPLICATE, Batch, Parsed, Result
from monitor.services.ingest.bulk_rate import BulkRate
from monitor.services.ingest.dedupe import known_frames, resent
from monitor.services.ingest.device_state import (
    DeviceState,
    downlink_ack,
    lock_devices,
    update_hot,
)
from monitor.services.ingest.parse import parse, parse_packed
from monitor.services.ingest.rejection_counts import count_rejections
from monitor.services.ingest.writer_lock import PriorityLock
from protocol import frame_types as ft
from protocol import frames, relay_batch
from protocol.errors import ProtocolError, Stale
from protocol.replay import ReplayWindow

MAX_BATCH = 1000  # frames per request; a gateway with a bigger backlog sends several batches
# Devices per bulk chunk on SQLite: about 4 ms of the writer's time on this machine, the most an
# alarm waits for it. 100 measured the same throughput and a higher median alarm round trip (12
# against 9 ms); 25 cost a fifth of the throughput (bench/ingest.py).
BULK_CHUNK_DEVICES = 50
# PostgreSQL pays a round trip per statement, so a chunk costs more there: with 4 gateways
# flooding, 50 gave 9.6k frames/s and an alarm p99 of 77 ms, 250 gave 10.6k and 160 ms, whole
# batches 11.5k and 295 ms; with one, 250 was the fastest (13.1k, p99 33 ms).
BULK_CHUNK_DEVICES_POSTGRES = 250


# SQLite has one writer: serialise ingest in-process, alarms first (writer_lock.py).
_sqlite_writer = PriorityLock()
# Alarm requests in flight in this process: bulk work steps aside for them (core/urgency.py).
urgent_gate = urgency.gate


def parts(parsed: list[Parsed]) -> list[tuple[bool, list[Parsed]]]:
    """(urgent, frames) per transaction. Urgent: every frame of the devices that sent anything
    but a heartbeat, in the order sent (a fob's own frames are never reordered, so its replay
    window sees them as before). Then the other devices' heartbeats."""
    urgent_devices = {p.device_id for p in parsed if p.ftype != ft.HEARTBEAT}
    urgent = [p for p in parsed if p.device_id in urgent_devices]
    bulk = [p for p in parsed if p.device_id not in urgent_devices]
    out = [(flag, part) for flag, part in ((True, urgent), (False, bulk)) if part]
    return out or [(False, [])]  # nothing parsed: parse's rejections are still counted


def ingest(
    session: Session,
    keybox: KeyBox,
    items: list[Any],
    gateway_id: int | None,
    now: dt.datetime | None = None,
    scope_worker_id: int | None = None,
    rate: BulkRate | None = None,
) -> list[dict[str, Any]]:
    """Process and commit one JSON batch; returns one result per item, in order. With
    `scope_worker_id` (a phone's gateway), frames from devices not allocated to that worker
    are rejected one by one as `out_of_scope`."""
    now = now or utcnow()
    batch = parse(items, now)
    results = commit(session, keybox, batch, gateway_id, now, scope_worker_id, rate)
    return [r.as_dict() for r in results]


def ingest_packed(
    session: Session,
    keybox: KeyBox,
    body: bytes,
    gateway_id: int | None,
    now: dt.datetime | None = None,
    scope_worker_id: int | None = None,
    rate: BulkRate | None = None,
    entry: GateEntry | None = None,
) -> bytes:
    """The same for a packed body (protocol/relay_batch.py), answered packed. Raises
    `relay_batch.BadBatch` for a body that does not add up, before anything is applied."""
    now = now or utcnow()
    batch = parse_packed(body, now, MAX_BATCH)
    results = commit(session, keybox, batch, gateway_id, now, scope_worker_id, rate, entry)
    reply: bytes = relay_batch.encode_reply([(r.status, r.reason, r.ack) for r in results])
    return reply


def commit(
    session: Session,
    keybox: KeyBox,
    batch: Batch,
    gateway_id: int | None,
    now: dt.datetime,
    scope_worker_id: int | None = None,
    rate: BulkRate | None = None,
    entry: GateEntry | None = None,
) -> list[Result]:
    """A parsed batch, however it was posted, through the rest of ingest and committed. With
    `rate`, a heartbeats-only batch over the gateway's cap is refused whole (RateLimited)
    before anything is applied. `entry`: the request's place in `urgent_gate`, taken when its
    body was read and left before its own heartbeats, if it has any (else when it is answered).
    """
    with urgency.exempt():  # ingest steps aside at its own safe points
        sqlite = session.get_bind().dialect.name == "sqlite"
        split = parts(batch.parsed)
        if rate is not None:
            heartbeats = sum(1 for p in batch.parsed if p.ftype == ft.HEARTBEAT)
            rate.charge(gateway_id, heartbeats, urgent=split[0][0])
        for n, (urgent, frames_) in enumerate(split):
            # Results are shared by index; what parse refused is counted with the first part.
            counted = (batch.rejections, batch.last_rejected) if n == 0 else None
            if not urgent and entry is not None:
                entry.leave()  # no alarm of ours left to apply: our heartbeats wait like any
            if not urgent:
                _commit_bulk(
                    session, keybox, batch, frames_, gateway_id, now, scope_worker_id, counted
                )
                continue
            part = _part(batch, frames_, counted)
            writer = _sqlite_writer.hold(True, gateway_id) if sqlite else contextlib.nullcontext()
            with urgent_gate.urgent(), writer:
                _apply(session, keybox, part, gateway_id, now, scope_worker_id)
                session.commit()
    return [r for r in batch.results if r is not None]


def _part(batch: Batch, frames_: list[Parsed], counted: tuple[Any, Any] | None) -> Batch:
    part = Batch(batch.results, frames_)
    if counted is not None:
        part.rejections, part.last_rejected = counted
    return part


def device_chunks(parsed: list[Parsed], most: int) -> list[list[Parsed]]:
    """The frames in chunks of at most `most` devices, each device's frames whole and in order
    in one chunk: what a batch costs is mostly per device (its row read, checked and written),
    so chunking by device adds only each transaction's fixed cost."""
    chunk_of: dict[int, int] = {}
    chunks: list[list[Parsed]] = []
    for p in parsed:
        k = chunk_of.get(p.device_id)
        if k is None:
            k = chunk_of[p.device_id] = len(chunk_of) // most
            if k == len(chunks):
                chunks.append([])
        chunks[k].append(p)
    return chunks


def _commit_bulk(
    session: Session,
    keybox: KeyBox,
    batch: Batch,
    frames_: list[Parsed],
    gateway_id: int | None,
    now: dt.datetime,
    scope_worker_id: int | None,
    counted: tuple[Any, Any] | None,
) -> None:
    """Heartbeats: applied a chunk of devices at a time, and committed whenever an alarm is in
    flight (it then has the interpreter to itself until answered) or, on SQLite, an alarm or
    another gateway's heartbeats wait for the writer. Unwaited-for, a batch is one transaction
    as before; waited-for, nobody waits longer than one chunk."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    # Nothing parsed still goes through once: parse's rejections are counted there.
    most = BULK_CHUNK_DEVICES if sqlite else BULK_CHUNK_DEVICES_POSTGRES
    chunks = device_chunks(frames_, most) or [[]]
    i = 0
    while i < len(chunks):
        urgent_gate.step_aside()
        with _sqlite_writer.hold(False, gateway_id) if sqlite else contextlib.nullcontext():
            while True:
                part = _part(batch, chunks[i], counted if i == 0 else None)
                _apply(session, keybox, part, gateway_id, now, scope_worker_id)
                i += 1
                if i == len(chunks) or urgent_gate.busy:
                    break
                if sqlite and _sqlite_writer.wanted_by_other(gateway_id):
                    break
            session.commit()


def store(
    session: Session, touched: list[tuple[Any, ...]], new_rows: list[tuple[Any, ...]]
) -> None:
    """A chunk's device rows and frame records, one driver executemany each (driver_rows)."""
    connection = session.connection()
    if touched:
        driver_rows.update_devices(connection, touched)
    if new_rows:
        driver_rows.insert_frames(connection, new_rows)


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
    batch: Batch,
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
                batch.reject(p.index, reasons.OUT_OF_SCOPE, p.device_id, p.counter)
        batch.parsed = [p for p in batch.parsed if p.device_id in scope]
        ids &= scope
    devices = lock_devices(session, ids)
    known = known_frames(session, batch.parsed)
    windows: dict[int, ReplayWindow] = {}
    new_rows: list[tuple[Any, ...]] = []  # driver_rows.FRAME_COLUMNS order
    accepted: list[tuple[Parsed, frames.Frame, DeviceState]] = []
    for p in batch.parsed:
        device = devices.get(p.device_id)
        if device is None:
            batch.reject(p.index, reasons.UNKNOWN_DEVICE, p.device_id, p.counter)
            continue
        if device.revoked_at is not None:
            keybox.forget(device.id)  # revoked on another instance, perhaps: zero it here too
            batch.reject(p.index, reasons.REVOKED_DEVICE, p.device_id, p.counter)
            continue
        try:
            key = keybox.opened(device.id, device.key_sealed)
        except InvalidTag:
            # A sealed key that will not open (a tampered row, a restore under another master
            # key) is our fault, not the frame's. Refuse this one frame (no ack: the fob keeps
            # it and resends) and count it for admins, rather than fail the whole batch and
            # hold back every other fob's alarm in it.
            batch.reject(p.index, reasons.KEY_UNAVAILABLE, p.device_id, p.counter)
            continue
        try:
            frame = signing.verify(key, p)
        except ProtocolError as e:
            batch.reject(p.index, e.reason, p.device_id, p.counter)
            continue
        seen = known.get((p.device_id, p.counter))
        if seen is not None:
            if seen == p.raw or resent(seen, frame, bytes(key.key)):
                # Already stored (another gateway, or a resend after a lost ack): ack again.
                ack = downlink_ack(key, device, p.counter)
                batch.taken(p, Result(DUPLICATE, None, p.device_id, p.counter, ack))
            else:
                # Same counter, different signed content: the fob reused a counter.
                batch.reject(p.index, reasons.REPLAYED, p.device_id, p.counter)
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
                batch.reject(p.index, e.reason, p.device_id, p.counter)
                continue
            p.item.flags.append(reasons.BEHIND_WINDOW)
        except ProtocolError as e:
            batch.reject(p.index, e.reason, p.device_id, p.counter)
            continue
        known[(p.device_id, p.counter)] = p.raw
        item = p.item
        new_rows.append(
            (device.id, p.counter, p.ftype, p.raw, gateway_id, item.link, item.rssi)
            + (item.received_at, now)
        )
        accepted.append((p, frame, device))
        ack = downlink_ack(key, device, p.counter)
        batch.taken(p, Result(ACCEPTED, None, p.device_id, p.counter, ack))
    for device_id, window in windows.items():
        d = devices[device_id]
        d.replay_highest, d.replay_bitmap = window.state()
    for p, frame, d in accepted:
        update_hot(d, p, frame, gateway_id)
    store(session, [d.changes() for d in devices.values() if d.touched], new_rows)
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
            act(session, keybox, orm_device, p, frame, gateway_id, d.id in offline, now)
        offline.discard(d.id)
    count_rejections(session, batch, gateway_id, now)
    session.flush()
