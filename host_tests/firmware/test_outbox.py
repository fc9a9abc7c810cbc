"""The outbox alone, against a model: no alarm dropped while there is room, a full outbox drops
heartbeats first, send order SOS > fall > other alarms > the rest, entries survive reboots."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.interpreters import Interpreter
from protocol import frame_types as ft

CAPACITY = 6
UPLINK_TYPES = [
    ft.SOS,
    ft.FALL,
    ft.NO_MOTION,
    ft.CHECKIN_OVERDUE,
    ft.LOW_BATTERY,
    ft.SOS_CANCEL,
    ft.CHECKIN_START,
    ft.HEARTBEAT,
]

op = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(UPLINK_TYPES), st.just(False)),
    st.tuples(st.just("ack"), st.integers(0, 30)),
    st.tuples(st.just("reboot")),
    st.tuples(st.just("due")),
)


@settings(max_examples=40)
@given(ops=st.lists(op, max_size=40))
def test_outbox_matches_model(
    device: Interpreter, new_root: Any, ops: list[tuple[Any, ...]]
) -> None:
    results = device.call(
        "hardware.sim.scenario:outbox_run", new_root(), [list(o) for o in ops], CAPACITY
    )
    model: dict[int, int] = {}  # counter -> type
    heartbeat: int | None = None
    counter = 0
    for o, res in zip(ops, results, strict=True):
        if o[0] == "add":
            ftype = o[1]
            c, ok, depth, _dropped = res
            assert c == counter
            counter += 1
            full_before = len(model) + (heartbeat is not None) >= CAPACITY
            if ftype == ft.HEARTBEAT:
                if heartbeat is not None or not full_before:
                    assert ok
                    heartbeat = c
                else:
                    assert not ok
            elif ft.is_alarm(ftype):
                assert ok, "alarm refused"
                if full_before and heartbeat is not None:
                    heartbeat = None  # the heartbeat made room
                model[c] = ftype
            else:
                if full_before and heartbeat is not None:
                    heartbeat = None
                    full_before = len(model) >= CAPACITY
                assert ok == (not full_before)
                if ok:
                    model[c] = ftype
            assert depth == len(model) + (heartbeat is not None)
        elif o[0] == "ack":
            present = o[1] in model or o[1] == heartbeat
            assert res == present
            model.pop(o[1], None)
            if heartbeat == o[1]:
                heartbeat = None
        elif o[0] == "reboot":
            heartbeat = None  # RAM only: a stale heartbeat says nothing after a reboot
            assert res == len(model)
        else:
            expect = sorted(model.items(), key=lambda kv: (ft.priority(kv[1]), kv[0]))
            got = [tuple(x) for x in res]
            want = [(t, c) for c, t in expect]
            if heartbeat is not None:
                want.append((ft.HEARTBEAT, heartbeat))
            assert got == want


def test_alarms_are_kept_beyond_capacity_and_evict_non_alarms(
    device: Interpreter, new_root: Any
) -> None:
    ops = [["add", ft.CHECKIN_START, False]] * 3 + [["add", ft.SOS, False]] * 10 + [["due"]]
    res = device.call("hardware.sim.scenario:outbox_run", new_root(), ops, 4)
    assert all(r[1] for r in res[3:13])
    sent = res[-1]
    assert [t for t, _ in sent].count(ft.SOS) == 10


def test_torn_and_corrupt_entries_are_skipped_not_fatal(device: Interpreter, new_root: Any) -> None:
    root = new_root()
    device.call("hardware.sim.scenario:outbox_run", root, [["add", ft.SOS, False]] * 2, 8)
    # A torn temporary file and a corrupted record, as a power cut and a bad flash page leave.
    device.exec(
        f"_f = open({root!r} + '/ob00000005.tmp', 'wb'); _f.write(b'\\x01\\x00'); _f.close()\n"
        f"_f = open({root!r} + '/ob00000001', 'r+b'); _f.seek(3); _f.write(b'\\xff'); _f.close()"
    )
    res = device.call("hardware.sim.scenario:outbox_run", root, [["reboot"], ["due"]], 8)
    assert res == [1, [[ft.SOS, 0]]]
