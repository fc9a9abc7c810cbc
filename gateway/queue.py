"""Durable local queue of uplink frames (SQLite in WAL mode).

A frame is committed here before the gateway does anything else with it, and deleted only once
the monitor has answered for it (accepted, duplicate or rejected). A crash, `kill -9` or power
cut between the two loses nothing: the next start sends what is left. The same frame bytes
queued twice (a fob resending because its ack was lost) are stored once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import QueueError
from protocol import frame_types

HELD_PRIORITY = 1000  # behind every real priority: a frame the monitor refuses to parse
BUSY_TIMEOUT_S = 5.0  # another process (the CLI's `status`) may hold the write lock briefly

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    frame BLOB NOT NULL UNIQUE,
    priority INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    link TEXT NOT NULL,
    port TEXT NOT NULL,
    rssi INTEGER,
    location TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS frames_order ON frames (priority, id);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending_downlinks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id INTEGER NOT NULL,
    frame BLOB NOT NULL,
    at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class QueuedFrame:
    id: int
    frame: bytes
    received_at: str
    link: str
    port: str
    rssi: int | None
    location: dict[str, float] | None
    attempts: int
    held: bool = False

    def as_wire(self) -> dict[str, object]:
        """The item of a `POST /v1/frames` body, as the contract spells it."""
        return {
            "frame": self.frame.hex(),
            "received_at": self.received_at,
            "link": self.link,
            "rssi": self.rssi,
            "location": self.location,
        }


# Everything but heartbeats goes out on the urgent lane, the moment it is queued (relay.py);
# heartbeats, the bulk of the traffic, after every other frame and in bigger batches.
BULK_PRIORITY = len(frame_types.ALARMS) + 1
URGENT = "urgent"
BULK = "bulk"


def frame_priority(frame: bytes) -> int:
    """Alarms leave the queue first, in their order; then cancels and check-ins; heartbeats
    last. Unparsable bytes never get this far."""
    if not frame:
        return BULK_PRIORITY
    if frame[0] & 0x1F == frame_types.HEARTBEAT:
        return BULK_PRIORITY
    return int(frame_types.priority(frame[0] & 0x1F))


class FrameQueue:
    def __init__(self, path: Path | str, *, synchronous: str = "NORMAL") -> None:
        # NORMAL in WAL mode: a commit survives the process dying (kill -9, crash, OOM) without
        # an fsync per frame (FULL costs ~4 ms per commit on this machine's disk, see
        # docs/performance.md). A power cut can lose the last commits, but those frames have
        # not been acked to the fob yet (only the monitor signs acks, after storing the frame),
        # so the fob still holds them in its outbox and resends. Pass "FULL" to pay for more.
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as e:
            raise QueueError(f"cannot open the queue at {self.path}: {e}") from e

    def append(
        self,
        frame: bytes,
        *,
        received_at: str,
        link: str,
        port: str,
        rssi: int | None = None,
        location: dict[str, float] | None = None,
    ) -> int | None:
        """Store a frame durably. Returns its id, or None if the same bytes are already queued."""
        loc = json.dumps(location) if location is not None else None
        try:
            with self._lock:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO frames (frame, priority, received_at, link, port, rssi,"
                    " location) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (bytes(frame), frame_priority(frame), received_at, link, port, rssi, loc),
                )
        except sqlite3.Error as e:
            raise QueueError(f"cannot append to the queue at {self.path}: {e}") from e
        return cur.lastrowid if cur.rowcount == 1 else None

    def batch(self, limit: int, lane: str | None = None) -> list[QueuedFrame]:
        """The most urgent frames, oldest first within a priority; of one lane (URGENT: all but
        heartbeats; BULK: heartbeats and held frames) or of all."""
        where = {None: "", URGENT: " WHERE priority < ?", BULK: " WHERE priority >= ?"}[lane]
        args = (limit,) if lane is None else (BULK_PRIORITY, limit)
        with self._lock:
            rows = self._db.execute(
                "SELECT id, frame, received_at, link, port, rssi, location, attempts, priority"
                " FROM frames" + where + " ORDER BY priority, id LIMIT ?",
                args,
            ).fetchall()
        return [
            QueuedFrame(
                r[0], bytes(r[1]), r[2], r[3], r[4], r[5], _loc(r[6]), r[7], r[8] >= HELD_PRIORITY
            )
            for r in rows
        ]

    def mark_attempted(self, ids: Iterable[int]) -> None:
        with self._lock:
            self._db.executemany(
                "UPDATE frames SET attempts = attempts + 1 WHERE id = ?", [(i,) for i in ids]
            )

    def hold(self, frame_id: int) -> None:
        """Move a frame behind all others (it stays until the monitor answers for it)."""
        with self._lock:
            self._db.execute(
                "UPDATE frames SET priority = ? WHERE id = ?", (HELD_PRIORITY, frame_id)
            )

    def remove(self, ids: Iterable[int]) -> None:
        """Forget frames the monitor has answered for."""
        try:
            with self._lock:
                self._db.execute("BEGIN")
                self._db.executemany("DELETE FROM frames WHERE id = ?", [(i,) for i in ids])
                self._db.execute("COMMIT")
        except sqlite3.Error as e:
            raise QueueError(f"cannot remove from the queue at {self.path}: {e}") from e

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM frames").fetchone()[0])

    def hold_downlink(self, device_id: int, frame: bytes, at: float, keep: int) -> None:
        """Keep a downlink for a fob that is not connected (the newest `keep` per fob)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO pending_downlinks (device_id, frame, at) VALUES (?, ?, ?)",
                (device_id, bytes(frame), at),
            )
            self._db.execute(
                "DELETE FROM pending_downlinks WHERE device_id = ? AND id NOT IN (SELECT id FROM"
                " pending_downlinks WHERE device_id = ? ORDER BY id DESC LIMIT ?)",
                (device_id, device_id, keep),
            )

    def take_downlinks(self, device_id: int, since: float) -> list[bytes]:
        """The held downlinks for a fob newer than `since`, oldest first; forgets them all."""
        with self._lock:
            rows = self._db.execute(
                "SELECT frame FROM pending_downlinks WHERE device_id = ? AND at >= ? ORDER BY id",
                (device_id, since),
            ).fetchall()
            self._db.execute("DELETE FROM pending_downlinks WHERE device_id = ?", (device_id,))
        return [bytes(r[0]) for r in rows]

    def get_state(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _loc(raw: str | None) -> dict[str, float] | None:
    return None if raw is None else dict(json.loads(raw))
