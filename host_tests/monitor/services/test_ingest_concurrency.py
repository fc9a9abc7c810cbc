"""Several gateways relaying the same frames at the same moment: each stored once, all acked."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from host_tests.support.monitor import DEVICE_ID, Env, heartbeat, sos
from monitor.models import Alarm, FrameRecord, RejectionCount
from monitor.services import ingest

GATEWAYS = 4
FRAMES = 40


def test_concurrent_gateways_store_each_frame_once_and_ack_every_copy(env: Env) -> None:
    items = [sos(c) if c % 8 == 0 else heartbeat(c) for c in range(1, FRAMES + 1)]
    forged = {**items[0], "frame": items[0]["frame"][:-2] + "00"}
    db, keybox = env.app.state.db, env.app.state.keybox
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(GATEWAYS)
    lock = threading.Lock()

    def gateway(gw: int) -> None:
        mine = items[:] + [forged]
        random.Random(gw).shuffle(mine)
        start.wait()
        try:
            for i in range(0, len(mine), 7):
                with db.session() as s:
                    out = ingest.ingest(s, keybox, mine[i : i + 7], gw)
                with lock:
                    results.extend(out)
        except BaseException as e:  # noqa: BLE001 - reported below with the thread's context
            errors.append(e)

    threads = [threading.Thread(target=gateway, args=(g,)) for g in range(1, GATEWAYS + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    statuses = Counter((r["counter"], r["status"]) for r in results)
    for c in range(1, FRAMES + 1):
        assert statuses[(c, "accepted")] == 1
        assert statuses[(c, "duplicate")] == GATEWAYS - 1
    assert statuses[(1, "rejected")] == GATEWAYS
    assert all(r["ack"] for r in results if r["status"] != "rejected")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(FrameRecord)) == FRAMES
        assert s.scalar(select(func.count()).select_from(Alarm)) == FRAMES // 8
        assert s.get(RejectionCount, "bad_tag").count == GATEWAYS  # type: ignore[union-attr]
        assert {a.device_id for a in s.scalars(select(Alarm))} == {DEVICE_ID}


def test_duplicate_lookup_uses_the_index_not_a_table_scan(env: Env) -> None:
    # A scan would make every batch slower as frame history grows.
    db = env.app.state.db
    with db.engine.connect() as conn:
        stmt = ingest.known_frames_statement({(1, 2), (3, 4)})
        sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        if db.is_sqlite:
            plan = " ".join(str(r) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert "USING INDEX" in plan and "SCAN frames" not in plan
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")  # tiny table: force the choice
            plan = " ".join(str(r) for r in conn.exec_driver_sql("EXPLAIN " + sql))
            assert "Index" in plan and "Seq Scan" not in plan
