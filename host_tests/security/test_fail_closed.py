"""Finding 8 (issue 11): the monitor fails closed, and the demo keeps its secrets off argv.

Real processes throughout: `python -m monitor serve` as an operator would start it, and the
demo's monitor, gateway and fob as `make run` starts them (devstack.localstack). Secrets are
looked for where any local user can read them: /proc/<pid>/cmdline and `ps`.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from devstack.localstack import (
    Demo,
    Proc,
    SimFob,
    child_env,
    free_port,
    start_gateway,
    start_monitor,
    wait_http,
)


def _env_without_environment(tmp_path: Path) -> dict[str, str]:
    env = child_env({"VIGIL_DATABASE_URL": f"sqlite:///{tmp_path}/vigil.db"})
    env.pop("VIGIL_ENVIRONMENT", None)
    return env


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_finding_8_monitor_refuses_to_start_without_environment(tmp_path: Path) -> None:
    port = free_port()
    for module in (["monitor", "serve"], ["monitor.demo"]):
        done = subprocess.run(
            [sys.executable, "-m", *module, "--port", str(port)],
            env=_env_without_environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0, done.stdout
        assert "VIGIL_ENVIRONMENT is not set" in done.stderr, done.stderr
        assert "--dev" in done.stderr
        assert "Traceback" not in done.stderr
        assert not _listening(port)
    assert not (tmp_path / "vigil.db").exists()  # refused before touching the database


def test_finding_8_dev_flag_starts_a_development_monitor(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "monitor", "serve", "--dev", "--port", str(port)]
    proc = Proc("monitor", argv, _env_without_environment(tmp_path), tmp_path / "monitor.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/auth/me", proc)
        assert httpx.get(f"http://127.0.0.1:{port}/v1/auth/me").json()["role"] == "anonymous"
    finally:
        proc.stop()
    contradicts = subprocess.run(
        [*argv[:-1], str(free_port())],
        env={**_env_without_environment(tmp_path), "VIGIL_ENVIRONMENT": "production"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert contradicts.returncode != 0 and "contradicts" in contradicts.stderr


def _argv_of(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_finding_8_demo_secrets_are_not_on_any_command_line(tmp_path: Path) -> None:
    demo = Demo.load()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs: list[Proc] = []
    fob: SimFob | None = None
    try:
        monitor = start_monitor(tmp_path / "monitor", port)  # `monitor.demo --dev`
        procs.append(monitor)
        tty = tmp_path / "fob.tty"
        events: queue.Queue[dict[str, Any]] = queue.Queue()
        fob = SimFob(
            "fob",
            tmp_path / "fob",
            demo.device_id,
            demo.device_key,
            ["--link-path", str(tty)],
            {},
            lambda f, e: events.put(e),
        )
        # The key reached the fob (from its environment): it is provisioned as the demo fob.
        fob.command("status")
        status = events.get(timeout=10)
        while status["event"] != "status":
            status = events.get(timeout=10)
        assert status["provisioned"] is True and status["device_id"] == demo.device_id
        gateway = start_gateway(tmp_path / "gateway", url, demo.gateway_token, [str(tty)])
        procs.append(gateway)
        # The token reached the gateway: the monitor hears from it.
        admin = httpx.Client(base_url=url, timeout=10)
        r = admin.post(
            "/v1/auth/login", json={"username": demo.admin[0], "password": demo.admin[1]}
        )
        assert r.status_code == 200
        deadline = time.monotonic() + 30
        while not any(g["last_seen_at"] for g in admin.get("/v1/gateways").json()):
            assert gateway.alive and time.monotonic() < deadline, "the gateway never reported"
            time.sleep(0.2)
        secrets = (demo.gateway_token, demo.device_key.hex())
        pids = {"monitor": monitor.popen.pid, "gateway": gateway.popen.pid, "fob": fob.popen.pid}
        for name, pid in pids.items():
            argv = _argv_of(pid)
            for secret in secrets:
                assert secret not in argv, f"{name} has a secret on its command line: {argv}"
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
        assert "monitor.demo --dev" in ps.stdout  # ps does see these processes...
        for secret in secrets:
            assert secret not in ps.stdout  # ...but none of their secrets
        # Where the secrets are instead: the environment, readable by the owner only.
        environ = Path(f"/proc/{gateway.popen.pid}/environ").read_bytes()
        assert f"VIGIL_GATEWAY_TOKEN={demo.gateway_token}".encode() in environ
        assert os.stat(f"/proc/{gateway.popen.pid}/environ").st_mode & 0o077 == 0
    finally:
        if fob is not None:
            fob.stop()
        for p in reversed(procs):
            p.stop(grace=3.0)
