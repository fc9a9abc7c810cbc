"""The running system the fault suite breaks: real processes on loopback, and the faults.

- monitor: `python -m monitor.demo` (uvicorn + SQLite) on a loopback port,
- gateway: `vigil gateway run`, its durable queue on a small tmpfs of its own (disk full is
  real ENOSPC), its wall clock shifted by libfaketime through a file we rewrite (clock jumps),
- fobs: `python -m hardware.sim.run_fob` (the real firmware) on real pseudo-terminals,
- an operator: API token + a follower of the live SSE stream that reconnects after restarts.

Every wait is bounded; every process is killed by process group in `close()`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from devstack.localstack import Demo, Proc, SimFob, child_env, free_port, wait_http

GATEWAY_QUEUE_FS_BYTES = 4 * 1024 * 1024  # room for thousands of frames; filled on purpose
SOS_HOLD_MS = 600  # the fobs' SOS hold, shortened so a schedule raises alarms quickly
# A fob speaks at least this often; a gateway learns which port a fob is on from its frames, so
# after a gateway restart an ACK_HELP waits for the fob's next frame (60 s by default).
HEARTBEAT_S = 10
FOB_CONFIG = {"sos_hold_ms": SOS_HOLD_MS, "heartbeat_s": HEARTBEAT_S}
SSE_RETRY_S = 0.3  # the operator's stream reconnects quickly after a monitor restart
DB_LOCK_BUSY_MS = 100  # the lock holder's own wait; the monitor's writers are the ones refused
HTTP_TIMEOUT_S = 10.0


def _faketime_lib() -> str | None:
    try:
        import libfaketime
    except ImportError:
        return None
    lib = Path(libfaketime.__file__).parent / "vendor/libfaketime/src/libfaketime.so.1"
    return str(lib) if lib.exists() else None


_JOURNALED = ("raised", "downlink", "downlink_rejected", "power_cut", "reboot", "feedback", "boot")


class FobState:
    """What one simulated fob reported on stdout."""

    def __init__(self, device_id: int, journal: Callable[[str], None]) -> None:
        self.device_id = device_id
        self.journal = journal
        self.lock = threading.Lock()
        self.raised: set[int] = set()  # SOS counters the firmware stored in its outbox
        self.sent: set[int] = set()  # SOS counters it put on the wire
        self.ack_help: Counter[int] = Counter()  # ACK_HELP downlinks accepted, by alarm counter
        self.help_coming = 0  # "help_coming" feedback patterns played
        self.power_cuts = 0
        self.heartbeats = 0  # heartbeats the fob raised (it speaks: the gateway binds it)

    def __call__(self, fob: SimFob, ev: dict[str, Any]) -> None:
        name = ev.get("event")
        if name in _JOURNALED:
            self.journal(f"fob {self.device_id}: {json.dumps(ev)}")
        with self.lock:
            if name == "raised" and ev.get("type") == "sos":
                self.raised.add(int(ev["counter"]))
            elif name == "frame_sent" and ev.get("type") == "sos":
                self.sent.add(int(ev["counter"]))
            elif name == "downlink" and ev.get("type") == "ack_help":
                self.ack_help[int(ev["fields"][0])] += 1
            elif name == "feedback" and ev.get("pattern") == "help_coming":
                self.help_coming += 1
            elif name == "power_cut":
                self.power_cuts += 1
            elif name == "raised" and ev.get("type") == "heartbeat":
                self.heartbeats += 1


class Rig:
    def __init__(self, tmp: Path, n_fobs: int = 2) -> None:
        self.tmp = tmp
        self.demo = Demo.load()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.survived: Counter[str] = Counter()
        self.not_injected: set[str] = set()
        self.journal = open(tmp / "journal.log", "a", buffering=1)  # noqa: SIM115 - close()
        self.monitor: Proc | None = None
        self.gateway: Proc | None = None
        self.fobs: list[SimFob] = []
        self.states: list[FobState] = []
        self.ttys: list[Path] = []
        self._filler: Path | None = None
        self.queue_dir = tmp / "gateway-queue"
        self.queue_dir.mkdir()
        self.tmpfs = self._mount_tmpfs()
        self.clock_file = tmp / "gateway-clock"
        self.clock_file.write_text("+0\n")
        self.faketime = _faketime_lib()
        self.start_monitor()
        self.token = self._operator_token()
        self.http = httpx.Client(
            base_url=self.url,
            timeout=HTTP_TIMEOUT_S,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        devices = [(self.demo.device_id, self.demo.device_key)]
        for _ in range(n_fobs - 1):
            devices.append(self._provision())
        for i, (dev, key) in enumerate(devices):
            self._start_fob(i, dev, key)
        self.start_gateway()
        self.stream_events: list[dict[str, Any]] = []
        self._stream_stop = threading.Event()
        self.stream_connects = 0
        self._stream_thread = threading.Thread(target=self._follow_stream, daemon=True)
        self._stream_thread.start()

    # -- set-up ------------------------------------------------------------------------------

    def _mount_tmpfs(self) -> bool:
        if os.geteuid() != 0:
            self.not_injected.add("disk_full")
            return False
        r = subprocess.run(
            [
                "mount",
                "-t",
                "tmpfs",
                "-o",
                f"size={GATEWAY_QUEUE_FS_BYTES}",
                "tmpfs",
                str(self.queue_dir),
            ],
            capture_output=True,
            timeout=10,
        )
        if r.returncode != 0:
            self.not_injected.add("disk_full")
            return False
        return True

    def _login(self, who: tuple[str, str]) -> httpx.Client:
        c = httpx.Client(base_url=self.url, timeout=HTTP_TIMEOUT_S)
        r = c.post("/v1/auth/login", json={"username": who[0], "password": who[1]})
        r.raise_for_status()
        c.headers["x-csrf-token"] = r.json()["csrf_token"]
        return c

    def _operator_token(self) -> str:
        # One token for the whole run: it lives in the monitor's database across restarts,
        # and logging in again after every kill would trip login rate limiting.
        c = self._login(self.demo.operator)
        try:
            r = c.post("/v1/auth/tokens", json={"label": "faults"})
            r.raise_for_status()
            return str(r.json()["token"])
        finally:
            c.close()

    def _provision(self) -> tuple[int, bytes]:
        c = self._login(self.demo.admin)
        try:
            r = c.post("/v1/devices", json={"board": "m5stickc-plus2"})
            r.raise_for_status()
            body = r.json()
            return int(body["device"]["id"]), bytes.fromhex(body["key"])
        finally:
            c.close()

    def _start_fob(self, i: int, device_id: int, key: bytes) -> None:
        tty = self.tmp / f"fob{i}.tty"
        state = FobState(device_id, self.note)
        fob = SimFob(
            f"fob{i}",
            self.tmp / f"flash{i}",
            device_id,
            key,
            ["--link-path", str(tty), "--config", json.dumps(FOB_CONFIG)],
            {},
            state,
        )
        self.fobs.append(fob)
        self.states.append(state)
        self.ttys.append(tty)

    def start_monitor(self) -> None:
        work = self.tmp / "monitor"
        work.mkdir(exist_ok=True)
        self.db_path = work / "monitor.sqlite3"
        env = child_env(
            {"VIGIL_ENVIRONMENT": "development", "VIGIL_DATABASE_URL": f"sqlite:///{self.db_path}"}
        )
        argv = [
            sys.executable,
            "-m",
            "monitor.demo",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        deadline = time.monotonic() + 30
        while True:
            self.monitor = Proc("monitor", argv, env, work / "monitor.log")
            try:
                wait_http(f"{self.url}/v1/auth/me", self.monitor)
                return
            except RuntimeError:
                # The killed instance's socket may linger a moment before the port is free.
                if time.monotonic() > deadline:
                    raise
                self._kill_group(self.monitor)
                time.sleep(0.5)

    def start_gateway(self) -> None:
        work = self.tmp / "gateway"
        work.mkdir(exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "vigil.cli",
            "gateway",
            "run",
            "--monitor-url",
            self.url,
            "--token",
            self.demo.gateway_token,
            "--queue",
            str(self.queue_dir / "gateway-queue.sqlite3"),
        ]
        for tty in self.ttys:
            argv += ["--serial", str(tty)]
        extra: dict[str, str] = {}
        if self.faketime:
            extra = {
                "LD_PRELOAD": self.faketime,
                "FAKETIME_TIMESTAMP_FILE": str(self.clock_file),
                "FAKETIME_NO_CACHE": "1",  # re-read the file: the jump happens while it runs
                "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # a wall-clock jump, as NTP or a user makes
            }
        else:
            self.not_injected.add("clock_jump")
        self.gateway = Proc("gateway", argv, child_env(extra), work / "gateway.log")

    def _follow_stream(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        while not self._stream_stop.is_set():
            try:
                timeout = httpx.Timeout(5.0, read=30.0)
                with (
                    httpx.Client(base_url=self.url, timeout=timeout) as c,
                    c.stream("GET", "/v1/alarms/stream", headers=headers) as resp,
                ):
                    self.stream_connects += 1
                    event = ""
                    for line in resp.iter_lines():
                        if self._stream_stop.is_set():
                            return
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:") and event == "alarm":
                            self.stream_events.append(json.loads(line[5:].strip()))
            except (httpx.HTTPError, ValueError):
                pass
            self._stream_stop.wait(SSE_RETRY_S)

    # -- faults ------------------------------------------------------------------------------

    @staticmethod
    def _kill_group(p: Proc | None) -> None:
        if p is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.popen.pid, signal.SIGKILL)
        p.popen.wait(10)
        with contextlib.suppress(OSError):
            p._log.close()

    def note(self, text: str) -> None:
        with contextlib.suppress(ValueError):  # closed: a fob's last words after close()
            self.journal.write(f"{time.strftime('%H:%M:%S')} {text}\n")

    def kill_gateway(self, down_s: float) -> None:
        self._kill_group(self.gateway)
        time.sleep(down_s)
        self.start_gateway()

    def kill_monitor(self, down_s: float) -> None:
        self._kill_group(self.monitor)
        time.sleep(down_s)
        self.start_monitor()

    def power_cut(self, i: int) -> None:
        self.fobs[i].command("power-cut")

    def flash_cut(self, i: int, after_ops: int) -> None:
        # The supply dies inside the n-th flash write/rename/remove from now (torn writes).
        self.fobs[i].command(f"power-cut-after {after_ops}")

    def unplug(self, i: int, down_s: float) -> None:
        self.fobs[i].command("link down")
        time.sleep(down_s)
        self.fobs[i].command("link up")

    def noise(self, i: int, n: int, seed: int) -> None:
        """Line noise both ways: into the gateway's read side (TIOCSTI pushes bytes into the
        tty's input queue, as a noisy line would) and onto the fob's side (written to the
        tty, which the fob reads)."""
        rnd = random.Random(seed)
        junk = bytes(rnd.randrange(256) for _ in range(n))
        fd = os.open(os.path.realpath(self.ttys[i]), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            for b in junk:
                fcntl.ioctl(fd, termios.TIOCSTI, bytes([b]))
            with contextlib.suppress(BlockingIOError):
                os.write(fd, junk)
        finally:
            os.close(fd)

    def db_locked(self) -> contextlib.AbstractContextManager[None]:
        """Another process holds the monitor database's write lock (a backup, a migration,
        an admin's shell): the monitor's writes fail with `database is locked`."""

        @contextlib.contextmanager
        def held() -> Any:
            con = sqlite3.connect(
                self.db_path, timeout=DB_LOCK_BUSY_MS / 1000, isolation_level=None
            )
            try:
                con.execute("BEGIN EXCLUSIVE")
                yield
            finally:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                con.close()

        return held()

    def disk_full(self) -> contextlib.AbstractContextManager[None]:
        @contextlib.contextmanager
        def full() -> Any:
            filler = self.queue_dir / "filler"
            self._filler = filler
            try:
                fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                try:
                    for size in (65536, 4096, 512, 1):  # to the last byte
                        with contextlib.suppress(OSError):
                            while True:
                                os.write(fd, b"\0" * size)
                finally:
                    os.close(fd)
                yield
            finally:
                filler.unlink(missing_ok=True)
                self._filler = None

        return full()

    def clock_jump(self, offset_s: int) -> None:
        self.clock_file.write_text(f"{offset_s:+d}\n")

    def sos(self, i: int) -> None:
        self.fobs[i].command("sos")

    # -- healing and checking ------------------------------------------------------------------

    def heal(self) -> None:
        """Stop every fault: clock right, disk free, every process up, every cable in. The
        replug makes each fob resend its outbox now, as it does when it comes back in range,
        instead of after the firmware's backoff (up to 60 s)."""
        self.clock_jump(0)
        for fob in self.fobs:
            fob.command("power-cut-after -1")  # a torn write still armed would be a fault
        if self._filler is not None:
            self._filler.unlink(missing_ok=True)
        if self.monitor is None or not self.monitor.alive:
            self.start_monitor()
        if self.gateway is None or not self.gateway.alive:
            self.start_gateway()
        for fob in self.fobs:
            fob.command("link down")
            fob.command("link up")

    def gateway_log(self) -> str:
        return (self.tmp / "gateway" / "gateway.log").read_text(errors="replace")

    def alarms(self) -> list[dict[str, Any]]:
        r = self.http.get("/v1/alarms", params={"status": "all", "limit": 1000})
        r.raise_for_status()
        return [a for a in r.json() if a["kind"] == "sos"]

    def counter_of(self, alarm_id: int) -> int | None:
        r = self.http.get(f"/v1/alarms/{alarm_id}")
        r.raise_for_status()
        for e in r.json()["timeline"]:
            if e.get("action") == "raised" and e.get("details"):
                return int(e["details"]["counter"])
        return None

    def acknowledge(self, alarm_id: int) -> bool:
        r = self.http.post(f"/v1/alarms/{alarm_id}/acknowledge")
        return r.status_code == 200

    def close(self) -> None:
        self._stream_stop.set()
        for fob in self.fobs:
            fob.stop()
        self._kill_group(self.gateway)
        self._kill_group(self.monitor)
        self.http.close()
        self.journal.close()
        if self.tmpfs:
            subprocess.run(["umount", "-l", str(self.queue_dir)], capture_output=True, timeout=10)
