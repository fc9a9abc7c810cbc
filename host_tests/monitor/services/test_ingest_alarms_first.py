"""Alarms never wait behind bulk traffic at the monitor: a batch's alarm devices are committed
before its heartbeats, and on SQLite an alarm takes the one writer before waiting bulk."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from host_tests.support.monitor import DEVICE_ID, Env, heartbeat, sos
from monitor.core.urgency import UrgentGate
from monitor.models import Alarm, Device, FrameRecord
from monitor.services import ingest, provisioning
from monitor.services.ingest import pipeline
from monitor.services.ingest.writer_lock import PriorityLock
from protocol import frame_types as ft

OTHER = 40  # a second fob, heartbeats only


def test_an_urgent_holder_overtakes_every_waiting_bulk_one() -> None:
    lock = PriorityLock()
    order: list[str] = []
    release = threading.Event()

    def take(name: str, urgent: bool) -> None:
        with lock.hold(urgent):
            order.append(name)
            if name == "bulk-holding":
                release.wait(5)

    holder = threading.Thread(target=take, args=("bulk-holding", False))
    holder.start()
    while not order:
        time.sleep(0.001)
    waiters = [threading.Thread(target=take, args=(f"bulk-{i}", False)) for i in range(3)]
    for t in waiters:
        t.start()
    time.sleep(0.05)  # the bulk ones are queued first
    alarm = threading.Thread(target=take, args=("alarm", True))
    alarm.start()
    while lock.urgent_waiting == 0:
        time.sleep(0.001)
    release.set()
    for t in [holder, alarm, *waiters]:
        t.join(5)
    assert order[:2] == ["bulk-holding", "alarm"], order
    assert sorted(order[2:]) == ["bulk-0", "bulk-1", "bulk-2"]


def test_parts_keep_each_fobs_frames_in_order_and_put_alarm_fobs_first() -> None:
    now = pipeline.utcnow()
    other = [heartbeat(c, device_id=OTHER) for c in (1, 2)]
    items = [other[0], heartbeat(1), sos(2), other[1], heartbeat(3)]
    batch = pipeline.parse(items, now)
    got = [(urgent, [(p.device_id, p.counter) for p in part]) for urgent, part in
           pipeline.parts(batch.parsed)]  # fmt: skip
    assert got == [
        (True, [(DEVICE_ID, 1), (DEVICE_ID, 2), (DEVICE_ID, 3)]),
        (False, [(OTHER, 1), (OTHER, 2)]),
    ]


def test_an_alarm_is_stored_even_when_the_bulk_part_of_its_batch_fails(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeats' transaction is made to fail (a fault injected into `_apply` for the
    non-urgent part; a real one would be a full disk or a lost connection): the SOS ahead of
    them is already committed, and the gateway's resend of the whole batch is then stored and
    acked, the SOS as a duplicate, with nothing lost or doubled."""
    db, keybox = env.app.state.db, env.app.state.keybox
    with db.session() as s:
        _, key = provisioning.provision_device(s, keybox, "t", board="sim", device_id=OTHER)
        s.commit()
    items = [heartbeat(1, device_id=OTHER, key=key), sos(1), heartbeat(2, device_id=OTHER, key=key)]
    real = pipeline._apply

    def failing_bulk(session, keybox, part, *args, **kwargs):  # type: ignore[no-untyped-def]
        if any(p.device_id == OTHER for p in part.parsed):
            raise RuntimeError("injected: the bulk transaction fails")
        return real(session, keybox, part, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_apply", failing_bulk)
    with db.session() as s, pytest.raises(RuntimeError, match="injected"):
        ingest.ingest(s, keybox, items, env.seeded.gateway_id)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Alarm)) == 1
        assert s.scalar(select(func.count()).select_from(FrameRecord)) == 1
        assert s.get(Device, OTHER).last_seen_at is None  # type: ignore[union-attr]
    monkeypatch.setattr(pipeline, "_apply", real)
    with db.session() as s:
        again = ingest.ingest(s, keybox, items, env.seeded.gateway_id)
    assert [r["status"] for r in again] == ["accepted", "duplicate", "accepted"]
    assert all(r["ack"] for r in again)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Alarm)) == 1
        assert s.scalar(select(func.count()).select_from(FrameRecord)) == 3


@given(
    st.lists(st.integers(1, 30), max_size=120),
    st.integers(1, 8),
)
def test_device_chunks_keep_each_fobs_frames_whole_and_in_order(
    devices: list[int], most: int
) -> None:
    now = pipeline.utcnow()
    parsed = pipeline.parse([heartbeat(c, device_id=d) for c, d in enumerate(devices, 1)], now)
    chunks = pipeline.device_chunks(parsed.parsed, most)
    seen: set[int] = set()
    for chunk in chunks:
        ids = {p.device_id for p in chunk}
        assert 0 < len(ids) <= most and not ids & seen  # a fob is in one chunk only
        seen |= ids
        assert [p.index for p in chunk] == sorted(p.index for p in chunk)
    assert sum(len(c) for c in chunks) == len(devices)


def test_a_bulk_batch_lets_the_writer_go_to_a_waiting_alarm_between_chunks(
    sqlite_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook around `_apply` (the real one still runs) pauses the first heartbeat chunk until
    an SOS from another gateway's request waits for the writer: the SOS must be applied next,
    before the rest of the heartbeats, which then finish in chunks of their own."""
    db, keybox = sqlite_env.app.state.db, sqlite_env.app.state.keybox
    keys = {}
    with db.session() as s:
        for d in range(100, 100 + 3 * pipeline.BULK_CHUNK_DEVICES):
            keys[d] = provisioning.provision_device(s, keybox, "t", board="sim", device_id=d)[1]
        s.commit()
    order: list[str] = []
    waiting = threading.Event()
    real = pipeline._apply

    def hooked(session, keybox, part, *args, **kwargs):  # type: ignore[no-untyped-def]
        urgent = any(p.ftype != ft.HEARTBEAT for p in part.parsed)
        order.append("alarm" if urgent else f"bulk x{len(part.parsed)}")
        if len(order) == 1:
            waiting.wait(5)
            while pipeline._sqlite_writer.urgent_waiting == 0:
                time.sleep(0.001)
        return real(session, keybox, part, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_apply", hooked)
    bulk = [heartbeat(1, device_id=d, key=k) for d, k in keys.items()]

    def flood() -> None:
        with db.session() as s:
            ingest.ingest(s, keybox, bulk, sqlite_env.seeded.gateway_id)

    flooder = threading.Thread(target=flood)
    flooder.start()
    while not order:
        time.sleep(0.001)
    waiting.set()
    with db.session() as s:
        [r] = ingest.ingest(s, keybox, [sos(1)], None)
    flooder.join(10)
    chunk = f"bulk x{pipeline.BULK_CHUNK_DEVICES}"
    assert r["status"] == "accepted"
    assert order == [chunk, "alarm", chunk, chunk], order
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(FrameRecord)) == len(bulk) + 1


def test_bulk_steps_aside_while_an_alarm_is_in_flight_and_not_for_ever() -> None:
    gate = UrgentGate()
    gate.STEP_ASIDE_S = 0.05
    done: list[float] = []
    with gate.urgent() as entry:
        t = threading.Thread(target=lambda: (gate.step_aside(), done.append(time.monotonic())))
        t.start()
        time.sleep(0.01)
        assert not done  # waiting while the alarm is in flight
        left = time.monotonic()
        entry.leave()
        entry.leave()  # once only: the count is not taken twice
        t.join(1)
        assert done and done[0] >= left
        assert not gate.busy
    with gate.urgent():
        start = time.monotonic()
        gate.step_aside()  # an alarm that never ends holds heartbeats up for STEP_ASIDE_S only
        assert 0.04 <= time.monotonic() - start < 1
