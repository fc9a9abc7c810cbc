"""One gateway's bulk traffic cannot starve another's: bulk holders of the SQLite writer take
turns by gateway, and each gateway's heartbeats are capped while its alarms never are."""

from __future__ import annotations

import statistics
import threading
import time

import httpx
import pytest

from host_tests.support.monitor import DEVICE_KEY, GATEWAY_TOKEN, LiveServer, heartbeat, sos
from monitor.errors import RateLimited
from monitor.services import provisioning
from monitor.services.ingest.bulk_rate import BulkRate
from monitor.services.ingest.writer_lock import PriorityLock


def test_bulk_holders_take_turns_by_gateway() -> None:
    lock = PriorityLock()
    order: list[str] = []
    release = threading.Event()

    def take(name: str, who: str) -> None:
        with lock.hold(False, who):
            order.append(name)
            if name == "a-holding":
                release.wait(5)

    holder = threading.Thread(target=take, args=("a-holding", "a"))
    holder.start()
    while not order:
        time.sleep(0.001)
    # Gateway a queues three more batches before gateway b's one arrives.
    waiters = [threading.Thread(target=take, args=(f"a-{i}", "a")) for i in range(3)]
    for t in waiters:
        t.start()
    time.sleep(0.05)
    late = threading.Thread(target=take, args=("b-0", "b"))
    late.start()
    time.sleep(0.05)
    release.set()
    for t in [holder, *waiters, late]:
        t.join(5)
    assert order[:2] == ["a-holding", "b-0"], order  # b, never served, before a's second
    assert sorted(order[2:]) == ["a-0", "a-1", "a-2"]


class _Clock:
    """A clock the test steps, so that refills are exact rather than timed."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_heartbeats_are_capped_per_gateway_and_alarms_never_are() -> None:
    clock = _Clock()
    rate = BulkRate(per_s=100, burst=300, clock=clock)
    rate.charge(1, 250, urgent=False)
    rate.charge(1, 250, urgent=False)  # in credit before: taken whole, now 200 in debt
    with pytest.raises(RateLimited) as refused:
        rate.charge(1, 10, urgent=False)
    assert refused.value.retry_after_s == 2  # the debt paid back at 100/s
    rate.charge(2, 300, urgent=False)  # another gateway has its own bucket
    rate.charge(1, 10, urgent=True)  # a batch with an alarm in it is always taken
    clock.t += 1.0
    with pytest.raises(RateLimited):
        rate.charge(1, 10, urgent=False)  # 110 still owed
    clock.t += 1.2
    rate.charge(1, 10, urgent=False)
    assert rate.refused == 2
    BulkRate(per_s=0, burst=1).charge(1, 10**9, urgent=False)  # 0: no cap


FLOODER = "vgw_flooding_gateway_token"
FLOOD_DEVICES = range(100, 140)


def test_a_flooding_gateway_does_not_hold_back_another_gateways_sos(
    live_server: LiveServer,
) -> None:
    """Gateway A posts heartbeat batches of 1,000 back to back from two threads; gateway B
    posts one SOS at a time meanwhile. A is held to its cap with 429s; every SOS of B's is
    accepted, and its p99 stays far below the seconds the issue measured before (885 ms median,
    2.3 s worst). The bound is loose on purpose: bench/ingest.py measures the figure."""
    db, keybox = live_server.app.state.db, live_server.app.state.keybox
    keys: dict[int, bytes] = {}
    with db.session() as s:
        provisioning.create_gateway(s, "t", "flooder", token=FLOODER)
        for d in FLOOD_DEVICES:
            keys[d] = provisioning.provision_device(s, keybox, "t", board="sim", device_id=d)[1]
        s.commit()
    rate: BulkRate = live_server.app.state.bulk_rate
    rate.per_s, rate.burst = 4000.0, 4000.0  # a small bucket so the flood reaches the cap
    stop = threading.Event()
    answers: list[int] = []
    lock = threading.Lock()
    counter = iter(range(1, 10**6))

    def flood() -> None:
        with httpx.Client(
            base_url=live_server.url, headers={"Authorization": f"Bearer {FLOODER}"}, timeout=30
        ) as c:
            while not stop.is_set():
                with lock:
                    batch = [next(counter) for _ in range(1000)]
                items = [
                    heartbeat(n, device_id=FLOOD_DEVICES[n % 40], key=keys[FLOOD_DEVICES[n % 40]])
                    for n in batch
                ]
                answers.append(c.post("/v1/frames", json={"frames": items}).status_code)

    floods = [threading.Thread(target=flood) for _ in range(2)]
    for t in floods:
        t.start()
    lat: list[float] = []
    try:
        with httpx.Client(
            base_url=live_server.url,
            headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
            timeout=30,
        ) as b:
            time.sleep(0.3)  # the flood is under way
            for n in range(1, 41):
                t0 = time.perf_counter()
                r = b.post("/v1/frames", json={"frames": [sos(n, key=DEVICE_KEY)]})
                lat.append(time.perf_counter() - t0)
                assert r.status_code == 200 and r.json()["results"][0]["status"] == "accepted"
                time.sleep(0.02)
    finally:
        stop.set()
        for t in floods:
            t.join(30)
    assert 429 in answers and 200 in answers, answers
    p99 = statistics.quantiles(lat, n=100)[98]
    assert p99 < 0.5, f"SOS p99 {p99 * 1000:.0f} ms behind another gateway's flood"
