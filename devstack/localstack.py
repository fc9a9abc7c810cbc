"""The whole alarm path as real processes on this machine: for `make run`, the latency
benchmark and the end-to-end tests.

`monitor.demo --dev` (uvicorn, SQLite, seeded demo accounts, device and gateway token), `vigil
gateway run` on a real pseudo-terminal, and an operator client on the live SSE stream. The monitor
package is imported lazily: a production gateway never needs it installed.

Secrets (the gateway token, fob keys) go to the children in their environment, never on the
command line: any local user can read every process's argv (`ps`, /proc/<pid>/cmdline), while
/proc/<pid>/environ is readable only by the process's owner.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

STARTUP_TIMEOUT_S = 30.0  # first start runs the monitor's migrations
STOP_TIMEOUT_S = 10.0
SSE_READ_TIMEOUT_S = 60.0  # the monitor pings the stream well within this


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


UVICORN_START_S = 20.0


@contextlib.contextmanager
def uvicorn_in_thread(app: Any, grace_s: float | None = None, **config: Any) -> Iterator[str]:
    """An ASGI app under a real uvicorn on a free loopback port, in a thread; yields its URL.

    For tests and benches that need what only a real server shows (streams that must end,
    connections that close, access logs). uvicorn is imported here: a gateway never needs it.
    With `grace_s`, connections still open that long after shutdown starts (a phone's long
    poll, an operator's stream) are cut instead of waited for.
    """
    import uvicorn

    port = free_port()
    config.setdefault("log_level", "warning")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + UVICORN_START_S
    while not server.started:
        if time.monotonic() > deadline or not t.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        if grace_s is not None:
            t.join(grace_s)
            server.force_exit = True
        t.join(10)


@dataclass(frozen=True)
class Demo:
    """The monitor's seeded demo identities (development values, refused in production)."""

    device_id: int
    device_key: bytes
    gateway_token: str
    operator: tuple[str, str]
    admin: tuple[str, str]

    @classmethod
    def load(cls) -> Demo:
        demo = importlib.import_module("monitor.demo")  # only where the monitor is installed
        return cls(
            demo.DEMO_DEVICE_ID,
            demo.DEMO_DEVICE_KEY,
            demo.DEMO_GATEWAY_TOKEN,
            ("operator", demo.DEMO_OPERATOR_PASSWORD),
            ("admin", demo.DEMO_ADMIN_PASSWORD),
        )


class Proc:
    """A child process we started; stopped politely, or killed -9 on request."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            argv, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        if self.alive:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self, grace: float = STOP_TIMEOUT_S) -> None:
        if self.alive:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._log.close()


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def start_monitor(workdir: Path, port: int) -> Proc:
    workdir.mkdir(parents=True, exist_ok=True)
    env = child_env({"VIGIL_DATABASE_URL": f"sqlite:///{workdir / 'monitor.sqlite3'}"})
    proc = Proc(
        "monitor",
        [sys.executable, "-m", "monitor.demo", "--dev", "--host", "127.0.0.1", "--port", str(port)],
        env,
        workdir / "monitor.log",
    )
    wait_http(f"http://127.0.0.1:{port}/v1/auth/me", proc)
    return proc


def wait_http(url: str, proc: Proc, timeout: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive:
            raise RuntimeError(f"{proc.name} exited; see {proc.log_path}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer on {url}; see {proc.log_path}")


def pair_fob(
    allowlist: Path, hci: str, address: str | None = None, timeout_s: float = 15.0
) -> subprocess.CompletedProcess[str]:
    """`vigil gateway pair` in a child process, as an engineer runs it: bonds with the fob (the
    one at `address`, or the first pairable one) and records it in the gateway's allowlist."""
    argv = [sys.executable, "-m", "vigil.cli", "gateway", "pair", "--allowlist", str(allowlist)]
    argv += ["--ble-hci", hci, "--timeout", str(timeout_s)]
    if address is not None:
        argv += ["--address", address]
    return subprocess.run(
        argv, env=child_env({}), capture_output=True, text=True, timeout=timeout_s + 45
    )


def start_gateway(
    workdir: Path, monitor_url: str, token: str, serial_ports: list[str], *extra: str
) -> Proc:
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "vigil.cli",
        "gateway",
        "run",
        "--monitor-url",
        monitor_url,
        "--queue",
        str(workdir / "gateway-queue.sqlite3"),
        *extra,
    ]
    for port in serial_ports:
        argv += ["--serial", port]
    return Proc("gateway", argv, child_env({"VIGIL_GATEWAY_TOKEN": token}), workdir / "gateway.log")


class Operator:
    """An operator's API client: logs in, follows the live alarm stream, acknowledges."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=10.0)
        r = self.http.post("/v1/auth/login", json={"username": username, "password": password})
        r.raise_for_status()
        csrf = r.json()["csrf_token"]
        r = self.http.post(
            "/v1/auth/tokens", json={"label": "localstack"}, headers={"x-csrf-token": csrf}
        )
        r.raise_for_status()
        self.token = str(r.json()["token"])
        self.http = httpx.Client(
            base_url=base_url, timeout=10.0, headers={"Authorization": f"Bearer {self.token}"}
        )
        # (arrival perf_counter, alarm payload) for every `event: alarm`
        self.events: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self._connected = threading.Event()
        self._shown: set[Any] = set()  # alarm ids next_alarm has taken off the stream
        self._stream: httpx.Response | None = None
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()
        if not self._connected.wait(STARTUP_TIMEOUT_S):
            raise RuntimeError("the alarm stream did not open")

    def _follow(self) -> None:
        try:
            self._read_stream()
        except httpx.HTTPError:
            pass  # the monitor went away (a test stopping it); a new Operator reconnects

    def _read_stream(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        timeout = httpx.Timeout(10.0, read=SSE_READ_TIMEOUT_S)
        with (
            httpx.Client(base_url=self.base_url, timeout=timeout) as c,
            c.stream("GET", "/v1/alarms/stream", headers=headers) as resp,
        ):
            event = ""
            for line in resp.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    if event == "hello":
                        self._connected.set()
                    elif event == "alarm":
                        self.events.put((time.perf_counter(), json.loads(line[5:].strip())))

    def next_alarm(
        self, timeout: float = 10.0, *, new: bool = False, **match: Any
    ) -> tuple[float, dict[str, Any]]:
        """The next alarm event whose fields equal `match`. With `new`, only an alarm not seen
        on the stream before: the stream also carries changes (acknowledged, resolved) to
        alarms already shown."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no alarm event matching {match}")
            at, alarm = self.events.get(timeout=left)
            seen = alarm.get("id") in self._shown
            self._shown.add(alarm.get("id"))
            if new and seen:
                continue
            if all(alarm.get(k) == v for k, v in match.items()):
                return at, alarm

    def acknowledge(self, alarm_id: int) -> dict[str, Any]:
        r = self.http.post(f"/v1/alarms/{alarm_id}/acknowledge")
        r.raise_for_status()
        return dict(r.json())

    def close(self) -> None:
        """Hang up the stream so the monitor can shut down without waiting for us."""
        stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - the reader thread may be mid-read; it exits anyway
                pass
        self.http.close()


class SimFob:
    """`python -m hardware.sim.run_fob`: the real firmware on the simulated board, driven by
    control lines on stdin; each JSON event line it prints goes to `on_event`."""

    def __init__(
        self,
        label: str,
        flash: Path,
        device_id: int,
        key: bytes,
        extra: list[str],
        env: dict[str, str],
        on_event: Callable[[SimFob, dict[str, Any]], None],
    ) -> None:
        self.label = label
        self.on_event = on_event
        argv = [
            sys.executable,
            "-m",
            "hardware.sim.run_fob",
            "--flash",
            str(flash),
            "--device-id",
            str(device_id),
            *extra,
        ]
        self.popen = subprocess.Popen(
            argv,
            env=child_env({**env, "VIGIL_SIM_FOB_KEY": key.hex()}),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.popen.stdout is not None
        self.ready: dict[str, Any] = json.loads(self.popen.stdout.readline())
        self.link_up = True
        self.moving = True  # the simulated wearer, as run_fob starts; "wearer" events update it
        self._patterns: set[str] = set()  # feedback patterns played so far
        self._played = threading.Condition()
        threading.Thread(target=self._events, args=(self.popen.stdout,), daemon=True).start()

    def _events(self, out: IO[str]) -> None:
        for line in out:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("event") == "wearer":
                self.moving = bool(ev.get("moving"))
            if ev.get("event") == "feedback":
                with self._played:
                    self._patterns.add(str(ev.get("pattern")))
                    self._played.notify_all()
            self.on_event(self, ev)

    def open_pairing(self, timeout_s: float = 5.0) -> bool:
        """Five quick taps on the fob; True once it confirms that its pairing window is open."""
        with self._played:
            self._patterns.discard("pairing_open")
        self.command("pair")
        with self._played:
            return self._played.wait_for(lambda: "pairing_open" in self._patterns, timeout_s)

    def command(self, line: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def stop(self) -> None:
        try:
            self.command("quit")
            self.popen.wait(3)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


def start_air(workdir: Path, ports: list[int]) -> Proc:
    """The simulated radio (`hardware.sim.ble air`): one bumble controller per port."""
    workdir.mkdir(parents=True, exist_ok=True)
    specs = [f"tcp-server:127.0.0.1:{p}" for p in ports]
    proc = Proc(
        "air",
        [sys.executable, "-m", "hardware.sim.ble", "air", *specs],
        child_env({}),
        workdir / "air.log",
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while b"air up" not in proc.log_path.read_bytes():
        if not proc.alive or time.monotonic() > deadline:
            raise RuntimeError(f"the simulated air did not start; see {proc.log_path}")
        time.sleep(0.05)
    return proc
