"""An independent alarm receiving centre on loopback: pysiaalarm's DC-09 receiver in its own
process, writing every event it accepted to stdout as one JSON line.

    python -m devstack.sia_receiver --account 1234 [--key 0123456789ABCDEF] [--port 0] [--udp]
                                    [--aio] [--count-only]

The first line is `{"listening": PORT}`; then one line per event pysiaalarm ACKed (it calls back
only for those), NULL supervision messages included. pysiaalarm uses the key's characters as the
AES key bytes (`key.encode()`), so `--key` is the key as text: 16, 24 or 32 characters. Tests,
the bench and `make run` use it as the ARC; nothing of the monitor is imported here, so it
checks the monitor's messages the way a third-party receiver would.

`--aio` runs pysiaalarm's asyncio receiver, the one Home Assistant's `sia` integration runs,
instead of its threaded one. `--count-only` prints nothing per event (writing a JSON line per
alarm would be most of the work at bench rates) and, when stopped, one line of totals:
`{"totals": {"accepted": {"SIA-DCS": n, ...}, "valid_events": n, "error_crc": n, ...}}`, the
counts of the callback and of pysiaalarm's own counter.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from pysiaalarm.account import SIAAccount
from pysiaalarm.aio.client import SIAClient as AioSIAClient
from pysiaalarm.aio.client import SIAClientTCP, SIAClientUDP
from pysiaalarm.event import SIAEvent
from pysiaalarm.sync.client import SIAClient
from pysiaalarm.utils.counter import Counter
from pysiaalarm.utils.enums import CommunicationsProtocol

_out = threading.Lock()


def _emit(line: dict[str, Any]) -> None:
    with _out:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


def _record(event: SIAEvent) -> None:
    msg_type = getattr(event.message_type, "value", event.message_type)
    _emit(
        {
            "type": msg_type,
            "account": event.account,
            "receiver": event.receiver,
            "line": event.line,
            "sequence": event.sequence,
            "encrypted": bool(event.encrypted),
            "code": event.code,
            "zone": event.message,
            "user": event.id,
            "area": event.ri,
            "xdata": {x.identifier: x.value for x in event.extended_data or []},
            "timestamp": event.timestamp.isoformat()
            if event.timestamp is not None and not isinstance(event.timestamp, str)
            else event.timestamp,
        }
    )


class _Tally:
    """The callback of --count-only: counts accepted events by type, prints nothing."""

    def __init__(self) -> None:
        self.accepted: dict[str, int] = {}
        # The threaded receiver calls back from one thread per connection, and `+= 1` is not
        # atomic: without the lock a count could come out short (pysiaalarm's own can).
        self._lock = threading.Lock()

    def __call__(self, event: SIAEvent) -> None:
        kind = str(getattr(event.message_type, "value", event.message_type))
        with self._lock:
            self.accepted[kind] = self.accepted.get(kind, 0) + 1

    def totals(self, counts: Counter) -> dict[str, Any]:
        return {"totals": {"accepted": self.accepted, **dataclasses.asdict(counts)}}


def _run_threaded(args: argparse.Namespace, on_event: Callable[[SIAEvent], None]) -> Counter:
    client = SIAClient(
        args.host,
        args.port,
        [SIAAccount(args.account, args.key)],
        function=on_event,
        protocol=CommunicationsProtocol.UDP if args.udp else CommunicationsProtocol.TCP,
    )
    client.start()
    _emit({"listening": client.sia_server.server_address[1]})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    client.stop()
    return client.sia_server.counts


async def _run_aio(args: argparse.Namespace, on_event: Callable[[SIAEvent], None]) -> Counter:
    async def call(event: SIAEvent) -> None:
        on_event(event)

    protocol = CommunicationsProtocol.UDP if args.udp else CommunicationsProtocol.TCP
    # Home Assistant's call. The abstract SIAClient's __new__ returns its TCP or UDP subclass
    # (which cannot be constructed directly: their __new__ finds no subclass of their own).
    client = AioSIAClient(  # type: ignore[abstract]
        args.host, args.port, [SIAAccount(args.account, args.key)], call, protocol=protocol
    )
    await client.async_start()
    if isinstance(client, SIAClientUDP):
        assert client.transport is not None
        port = client.transport.get_extra_info("sockname")[1]
    else:
        assert isinstance(client, SIAClientTCP) and client.server is not None
        port = client.server.sockets[0].getsockname()[1]
    _emit({"listening": port})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await client.async_stop()
    return client.sia_server.counts


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--account", required=True)
    p.add_argument("--key", default=None, help="AES key as 16, 24 or 32 characters")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--udp", action="store_true")
    p.add_argument("--aio", action="store_true", help="the asyncio receiver Home Assistant runs")
    p.add_argument("--count-only", action="store_true", help="print only totals, at exit")
    args = p.parse_args(argv)
    SIAAccount.validate_account(account_id=args.account, key=args.key)
    tally = _Tally()
    on_event = tally if args.count_only else _record
    counts = asyncio.run(_run_aio(args, on_event)) if args.aio else _run_threaded(args, on_event)
    if args.count_only:
        _emit(tally.totals(counts))


class ReceiverProcess:
    """Runs this module in a child process and collects what it prints (tests and the bench)."""

    def __init__(
        self,
        account: str,
        key: str | None = None,
        udp: bool = False,
        port: int = 0,
        *,
        aio: bool = False,
        count_only: bool = False,
    ):
        self.account, self.key, self.udp, self.requested_port = account, key, udp, port
        self.aio, self.count_only = aio, count_only
        self.events: list[dict[str, Any]] = []
        self.totals: dict[str, Any] = {}  # with count_only: filled in when the receiver stops
        self._changed = threading.Condition()
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self.port = 0

    def __enter__(self) -> ReceiverProcess:
        cmd = [sys.executable, "-m", "devstack.sia_receiver", "--account", self.account]
        cmd += ["--port", str(self.requested_port)]
        if self.key:
            cmd += ["--key", self.key]
        if self.udp:
            cmd.append("--udp")
        if self.aio:
            cmd.append("--aio")
        if self.count_only:
            cmd.append("--count-only")
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        assert self._proc.stdout is not None
        first = self._proc.stdout.readline()
        if not first:
            raise RuntimeError(f"sia_receiver exited with {self._proc.wait()} before listening")
        self.port = int(json.loads(first)["listening"])
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            record = json.loads(line)
            with self._changed:
                if "totals" in record:
                    self.totals = record["totals"]
                else:
                    self.events.append(record)
                self._changed.notify_all()

    def alarms(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == "SIA-DCS"]

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until n SIA-DCS events have arrived; returns them all."""
        end = time.monotonic() + timeout
        with self._changed:
            while len(self.alarms()) < n and time.monotonic() < end:
                self._changed.wait(max(0.0, end - time.monotonic()))
            return self.alarms()

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._reader is not None:
            self._reader.join(5)  # the totals line is the last it reads


if __name__ == "__main__":
    main()
