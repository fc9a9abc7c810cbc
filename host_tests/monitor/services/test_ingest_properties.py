"""Property: any interleaving of duplicated, replayed, reordered and forged frames from several
gateways yields each alarm exactly once, and every genuine delivery is acked."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from host_tests import strategies as S
from host_tests.support.monitor import Env
from monitor.models import Alarm
from monitor.services import ingest, provisioning
from protocol import frame_types as ft
from protocol import frames

_ids = itertools.count(100_000)
ALARM_TYPES = st.sampled_from([ft.SOS, ft.FALL, ft.NO_MOTION])


@st.composite
def scenario(
    draw: st.DrawFn,
) -> tuple[list[tuple[int, int]], list[tuple[int, int, bool]], list[int]]:
    # Distinct counters within one replay window (a fob's outbox resends within it).
    counters = draw(st.lists(st.integers(0, 60), min_size=1, max_size=8, unique=True))
    alarms = [(c, draw(ALARM_TYPES)) for c in counters]
    # Each delivery: (alarm index, gateway, forged?) -- every alarm delivered at least once.
    extra = draw(
        st.lists(
            st.tuples(st.integers(0, len(alarms) - 1), st.integers(1, 3), st.booleans()),
            max_size=20,
        )
    )
    deliveries = [(i, 1, False) for i in range(len(alarms))] + extra
    deliveries = draw(st.permutations(deliveries))
    cuts = draw(st.lists(st.integers(1, 6), min_size=1, max_size=len(deliveries)))
    return alarms, deliveries, cuts


@settings(
    max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(sc=scenario(), key=S.issued_keys)
def test_each_alarm_is_shown_exactly_once_whatever_the_interleaving(
    env: Env,
    sc: tuple[list[tuple[int, int]], list[tuple[int, int, bool]], list[int]],
    key: bytes,
) -> None:
    alarms, deliveries, cuts = sc
    db, keybox = env.app.state.db, env.app.state.keybox
    device_id = next(_ids)
    with db.session() as s:
        provisioning.provision_device(s, keybox, "test", board="sim", device_id=device_id, key=key)
    now = dt.datetime.now(dt.UTC).isoformat()
    items = []
    for i, gw, forged in deliveries:
        counter, ftype = alarms[i]
        raw = bytearray(frames.encode(ftype, device_id, counter, (80, 0, 0), key))
        if forged:
            raw[-1] ^= 0x01
        items.append((gw, forged, {"frame": raw.hex(), "received_at": now, "link": "ble"}))
    results = []
    pos = 0
    for size in itertools.cycle(cuts):
        if pos >= len(items):
            break
        chunk = items[pos : pos + size]
        pos += size
        # A batch comes from one gateway in reality; split the chunk by gateway.
        for gw in (1, 2, 3):
            part = [it for g, _, it in chunk if g == gw]
            if part:
                with db.session() as s:
                    results += list(zip(part, ingest.ingest(s, keybox, part, gw), strict=True))
    by_frame: dict[str, list[str]] = {}
    for item, r in results:
        by_frame.setdefault(item["frame"], []).append(r["status"])
        if r["status"] == "rejected":
            assert r["reason"] == "bad_tag" and r["ack"] is None
        else:
            assert r["ack"] is not None
    for statuses in by_frame.values():
        if "rejected" not in statuses:
            assert statuses.count("accepted") == 1
            assert set(statuses) <= {"accepted", "duplicate"}
    with db.session() as s:
        shown = sorted(s.scalars(select(Alarm.source_counter).where(Alarm.device_id == device_id)))
    assert shown == sorted(c for c, _ in alarms)
