"""An independent alarm receiving centre on loopback: pysiaalarm's DC-09 receiver in its own
process, writing every event it accepted to stdout as one JSON line.

    python -m devstack.sia_receiver --account 1234 [--key 0123456789ABCDEF] [--port 0] [--udp]

The first line is `{"listening": PORT}`; then one line per event pysiaalarm ACKed (it calls back
only for those), NULL supervision messages included. pysiaalarm uses the key's characters as the
AES key bytes (`key.encode()`), so `--key` is the key as text: 16, 24 or 32 characters. Tests,
the bench and `make run` use it as the ARC; nothing of the monitor is imported here, so it
checks the monitor's messages the way a third-party receiver would.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from pysiaalarm.account import SIAAccount
from pysiaalarm.event import SIAEvent
from pysiaalarm.sync.client import SIAClient
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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--account", required=True)
    p.add_argument("--key", default=None, help="AES key as 16, 24 or 32 characters")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--udp", action="store_true")
    args = p.parse_args(argv)
    SIAAccount.validate_account(account_id=args.account, key=args.key)
    client = SIAClient(
        args.host,
        args.port,
        [SIAAccount(args.account, args.key)],
        function=_record,
        protocol=CommunicationsProtocol.UDP if args.udp else CommunicationsProtocol.TCP,
    )
    client.start()
    _emit({"listening": client.sia_server.server_address[1]})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    client.stop()


class ReceiverProcess:
    """Runs this module in a child process and collects what it prints (tests and the bench)."""

    def __init__(self, account: str, key: str | None = None, udp: bool = False, port: int = 0):
        self.account, self.key, self.udp, self.requested_port = account, key, udp, port
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> ReceiverProcess:
        cmd = [sys.executable, "-m", "devstack.sia_receiver", "--account", self.account]
        cmd += ["--port", str(self.requested_port)]
        if self.key:
            cmd += ["--key", self.key]
        if self.udp:
            cmd.append("--udp")
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        assert self._proc.stdout is not None
        first = self._proc.stdout.readline()
        if not first:
            raise RuntimeError(f"sia_receiver exited with {self._proc.wait()} before listening")
        self.port = int(json.loads(first)["listening"])
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            with self._changed:
                self.events.append(json.loads(line))
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


if __name__ == "__main__":
    main()
