"""The peer's receive rate: pysiaalarm's SIA DC-09 receiver, on this machine, in this run.

Issue 17 compares our ingest with the receiver behind Home Assistant's `sia` integration. The
receiver is pysiaalarm's asyncio server (what Home Assistant runs; `--receiver threaded` picks
its socketserver one, which devstack/sia_receiver.py runs for the tests) in its own process,
as our monitor is in its own, so each side's CPU is its own. It counts what it accepts and
prints nothing per alarm: like the ingest bench's loader, storing nothing is the peer's best
case, so a ratio against it is conservative.

`clients` alarm panels, each a thread with its own TCP connection on loopback, send SIA-DCS
panic alarms back to back, each waiting for the receiver's ACK before the next, as a panel does
and as our ingest is measured (one request, then its answer). Each message has its own sequence
number and a current timestamp, and is AES-128 encrypted when asked. A message counts when the
receiver ACKed it with its sequence number; afterwards the count of events the receiver passed
to its callback must agree, or the run fails.

    .venv/bin/python -m bench.sia_peer [--duration 3] [--clients 4] [--receiver threaded]

Last line JSON: {"pysiaalarm_alarms_per_s": .., "pysiaalarm_aes_alarms_per_s": ..}
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Literal

from devstack.sia_receiver import ReceiverProcess
from monitor.arc import dc09
from monitor.errors import DC09Error

ACCOUNT = "BE11CE"
KEY = "0123456789ABCDEF"  # AES-128; pysiaalarm takes the key's characters as its bytes
# A panel's panic button: zone 7, user 3, area 1, no extended data (what most panels send).
EVENT = dc09.Event("PA", zone=7, user=3)
WARMUP = 20  # messages per panel before the clock starts: connection set-up, first parses
ANSWER_TIMEOUT_S = 5.0  # a receiver on loopback answers in milliseconds; this is a failure
MAX_ANSWER = 4096  # an answer is under 200 bytes: more without a CR is not DC-09

Receiver = Literal["asyncio", "threaded"]


def message(seq: int, key: bytes | None, line: int = 1) -> bytes:
    """One SIA-DCS message, timestamped now. Built by our own encoder (monitor/arc/dc09.py):
    pysiaalarm parses and checks every field independently (CRC, length, account, timestamp
    window, AES), so a message it ACKs is valid DC-09 whoever built it."""
    prefix = dc09.Prefix(ACCOUNT, receiver="1", line=f"{line:X}")
    return dc09.encode(prefix, seq, EVENT, dt.datetime.now(dt.UTC), key)


def corrupted(frame: bytes) -> bytes:
    """The same message with a wrong CRC (its first hex digit changed)."""
    first = frame[1:2]
    return frame[:1] + (b"1" if first != b"1" else b"2") + frame[2:]


class Panel:
    """One alarm panel's TCP connection to the receiver: a message, then wait for its answer."""

    def __init__(self, port: int, key: bytes | None) -> None:
        self.key = key
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, frame: bytes, seq: int) -> bool:
        """True only for an ACK of this sequence number (encrypted when the message was)."""
        self.sock.sendall(frame)
        answer = self._answer()
        try:
            reply = dc09.decode(answer, self.key)
        except DC09Error:
            return False  # pysiaalarm answers a message whose CRC is wrong with a bare LF CR
        return reply.id == "ACK" and reply.seq == seq and reply.encrypted == (self.key is not None)

    def _answer(self) -> bytes:
        buf = b""
        while (end := buf.find(b"\r")) < 0:
            chunk = self.sock.recv(1024)
            if not chunk:
                raise ConnectionError("the receiver closed the connection before answering")
            buf += chunk
            if len(buf) > MAX_ANSWER:
                raise DC09Error(f"{len(buf)} bytes from the receiver without a CR")
        return buf[: end + 1]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Panel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class PeerRun:
    acked: int  # in the measured window
    elapsed_s: float
    receiver_cpu_s: float  # the receiver process's user + system CPU in the window

    @property
    def alarms_per_s(self) -> float:
        return self.acked / self.elapsed_s

    @property
    def receiver_cores(self) -> float:
        return self.receiver_cpu_s / self.elapsed_s


def receiver_process(encrypted: bool, receiver: Receiver = "asyncio") -> ReceiverProcess:
    return ReceiverProcess(
        ACCOUNT, KEY if encrypted else None, aio=receiver == "asyncio", count_only=True
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    duration_s: float = 3.0,
    *,
    encrypted: bool = False,
    clients: int = 4,
    receiver: Receiver = "asyncio",
) -> PeerRun:
    key = KEY.encode() if encrypted else None
    acked = [0] * clients  # per panel, in the window
    warm = [0] * clients
    failed: list[BaseException] = []
    start = threading.Barrier(clients + 1)
    stop = threading.Event()

    def panel(k: int, port: int) -> None:
        seq = 0
        try:
            with Panel(port, key) as p:
                for _ in range(WARMUP):
                    seq = dc09.next_sequence(seq)
                    warm[k] += p.send(message(seq, key, k + 1), seq)
                start.wait()
                while not stop.is_set():
                    seq = dc09.next_sequence(seq)
                    acked[k] += p.send(message(seq, key, k + 1), seq)
        except BaseException as e:  # reported by the caller; a dead panel must not hang it
            failed.append(e)
            start.abort()

    with receiver_process(encrypted, receiver) as arc:
        threads = [threading.Thread(target=panel, args=(k, arc.port)) for k in range(clients)]
        for t in threads:
            t.start()
        try:
            start.wait()
        except threading.BrokenBarrierError:
            pass
        t0, cpu0 = time.perf_counter(), cpu_seconds(arc.pid)
        if not failed:
            time.sleep(duration_s)
        stop.set()
        for t in threads:
            t.join()
        elapsed, cpu = time.perf_counter() - t0, cpu_seconds(arc.pid) - cpu0
    if failed:
        raise RuntimeError(f"a panel failed: {failed[0]!r}") from failed[0]
    # Every ACK we counted must be an event the receiver passed to its callback. (Not checked
    # against pysiaalarm's own valid_events: the threaded receiver increments it from several
    # threads without a lock, so it can come out short under load.)
    total = sum(acked) + sum(warm)
    got = arc.totals.get("accepted", {}).get("SIA-DCS")
    if got != total:
        raise RuntimeError(f"{total} ACKs but the receiver accepted {got}: {arc.totals}")
    return PeerRun(sum(acked), elapsed, cpu)


def alarms_per_s(
    duration_s: float = 3.0,
    *,
    encrypted: bool = False,
    clients: int = 4,
    receiver: Receiver = "asyncio",
) -> float:
    """ACKed alarms per second from pysiaalarm's receiver (Home Assistant's) on loopback TCP."""
    return measure(duration_s, encrypted=encrypted, clients=clients, receiver=receiver).alarms_per_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    ap.add_argument("--clients", type=int, default=4, help="panels sending at once")
    ap.add_argument("--receiver", choices=("asyncio", "threaded"), default="asyncio")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cpu, load average {os.getloadavg()[0]:.2f}")
    rates: dict[bool, float] = {}
    for encrypted in (False, True):
        run = measure(
            args.duration, encrypted=encrypted, clients=args.clients, receiver=args.receiver
        )
        rates[encrypted] = run.alarms_per_s
        print(
            f"pysiaalarm {args.receiver} {'AES-128' if encrypted else 'plain  '}: "
            f"{run.alarms_per_s:7.0f} alarms/s ({run.acked} ACKed in {run.elapsed_s:.1f} s, "
            f"{args.clients} panels; receiver used {run.receiver_cores:.2f} cores, "
            f"{run.acked / max(run.receiver_cpu_s, 1e-9):.0f} alarms per CPU-second)"
        )
    print(
        json.dumps(
            {
                "pysiaalarm_alarms_per_s": round(rates[False]),
                "pysiaalarm_aes_alarms_per_s": round(rates[True]),
            }
        )
    )


if __name__ == "__main__":
    main()
