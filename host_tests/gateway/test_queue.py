import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from gateway.queue import FrameQueue
from protocol import frame_types, frames

KEY = bytes(32)


def _frame(ftype: int, counter: int) -> bytes:
    fields = (50, 0, 0, 1) if ftype == frame_types.HEARTBEAT else (50, 0, 0)
    return frames.encode(ftype, 7, counter, fields, KEY)


def _append(q: FrameQueue, raw: bytes) -> int | None:
    return q.append(raw, received_at="2026-01-01T00:00:00.000Z", link="serial", port="/dev/x")


def test_frames_survive_reopen_until_removed(tmp_path: Path) -> None:
    q = FrameQueue(tmp_path / "q.sqlite3")
    ids = [_append(q, _frame(frame_types.SOS, c)) for c in range(1, 4)]
    q.close()
    q = FrameQueue(tmp_path / "q.sqlite3")
    assert [f.frame for f in q.batch(10)] == [_frame(frame_types.SOS, c) for c in range(1, 4)]
    q.remove([i for i in ids[:2] if i is not None])
    assert [f.frame for f in q.batch(10)] == [_frame(frame_types.SOS, 3)]


def test_resent_frame_is_stored_once(tmp_path: Path) -> None:
    q = FrameQueue(tmp_path / "q.sqlite3")
    assert _append(q, _frame(frame_types.SOS, 1)) is not None
    assert _append(q, _frame(frame_types.SOS, 1)) is None
    assert q.depth() == 1


def test_alarms_leave_before_heartbeats_queued_earlier(tmp_path: Path) -> None:
    q = FrameQueue(tmp_path / "q.sqlite3")
    _append(q, _frame(frame_types.HEARTBEAT, 1))
    _append(q, _frame(frame_types.LOW_BATTERY, 2))
    _append(q, _frame(frame_types.SOS, 3))
    order = [f.frame[0] & 0x1F for f in q.batch(10)]
    assert order == [frame_types.SOS, frame_types.LOW_BATTERY, frame_types.HEARTBEAT]


def test_wire_item_matches_the_contract(tmp_path: Path) -> None:
    q = FrameQueue(tmp_path / "q.sqlite3")
    raw = _frame(frame_types.SOS, 1)
    q.append(
        raw,
        received_at="2026-01-01T00:00:00.000Z",
        link="ble",
        port="AA:BB",
        rssi=-60,
        location={"lat": 1.0, "lon": 2.0, "accuracy_m": 3.0},
    )
    assert q.batch(1)[0].as_wire() == {
        "frame": raw.hex(),
        "received_at": "2026-01-01T00:00:00.000Z",
        "link": "ble",
        "rssi": -60,
        "location": {"lat": 1.0, "lon": 2.0, "accuracy_m": 3.0},
    }


def test_every_reported_append_survives_kill_9(tmp_path: Path) -> None:
    # A writer process reports each frame once append() has returned; we SIGKILL it mid-stream.
    db = tmp_path / "q.sqlite3"
    script = textwrap.dedent(f"""
        import sys
        from gateway.queue import FrameQueue
        from protocol import frames
        q = FrameQueue({str(db)!r})
        for c in range(1, 100000):
            q.append(frames.encode(1, 7, c, (50, 0, 0), bytes(32)),
                     received_at="t", link="serial", port="p")
            print(c, flush=True)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    reported = 0
    for line in proc.stdout:
        reported = int(line)
        if reported >= 300:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    q = FrameQueue(db)
    stored = {frames.peek(f.frame)[2] for f in q.batch(1_000_000)}
    assert set(range(1, reported + 1)) <= stored
    assert q.depth() == len(stored)  # nothing half-written
