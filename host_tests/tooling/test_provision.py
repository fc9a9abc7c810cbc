"""`vigil provision` and `vigil fob reset` end to end: a simulated fob running the real firmware
on a real pty, a real monitor under uvicorn, and the engineer's command in between."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from host_tests.support.monitor import ADMIN_PASSWORD, LiveServer
from tooling import provision as prov
from tooling.cli import register
from tooling.errors import ToolingError

ROOT = Path(__file__).resolve().parents[2]


class SimFob:
    def __init__(self, flash: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hardware.sim.run_fob", "--flash", str(flash)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.flash = flash
        while (event := json.loads(self.proc.stdout.readline()))["event"] != "ready":
            pass
        self.port: str = event["pty"]

    def stored_key(self) -> bytes:
        # What the firmware wrote to its (simulated) flash: the key the engineer's tool sent.
        from firmware.identity import Identity
        from hardware.sim.flash import SimFlash

        key: bytes = Identity(SimFlash(str(self.flash))).key
        return key

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def fob(tmp_path: Path) -> Iterator[SimFob]:
    f = SimFob(tmp_path / "flash")
    yield f
    f.close()


def admin_token(url: str) -> str:
    with httpx.Client(base_url=url) as c:
        r = c.post("/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        r.raise_for_status()
        r = c.post(
            "/v1/auth/tokens",
            json={"label": "engineer"},
            headers={"X-CSRF-Token": r.json()["csrf_token"]},
        )
        r.raise_for_status()
        return str(r.json()["token"])


def test_provision_registers_writes_and_proves_the_fob(
    fob: SimFob,
    live_server: LiveServer,
) -> None:
    token = admin_token(live_server.url)
    steps: list[str] = []
    done = prov.provision(fob.port, live_server.url, token, progress=steps.append)
    assert done.verified and done.board and done.firmware
    assert steps[-1].startswith("verifying")
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}) as c:
        device = c.get(f"/v1/devices/{done.device_id}").json()
    assert device["test_ok_at"] is not None, "monitor never saw the fob's signed test frame"
    st = prov.status(fob.port)
    assert st["provisioned"] and st["device_id"] == done.device_id
    assert prov.config(fob.port)["heartbeat_s"] == 60


def test_a_provisioned_fob_needs_force(fob: SimFob, live_server: LiveServer) -> None:
    token = admin_token(live_server.url)
    first = prov.provision(fob.port, live_server.url, token)
    with pytest.raises(prov.AlreadyProvisioned) as err:
        prov.provision(fob.port, live_server.url, token)
    assert "--force" in err.value.hint
    again = prov.provision(fob.port, live_server.url, token, force=True)
    assert again.device_id == first.device_id and again.key_hex != first.key_hex


def test_the_key_is_never_printed_or_written(
    fob: SimFob,
    live_server: LiveServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workdir = tmp_path / "engineer"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    app = typer.Typer()
    register(app)
    token = admin_token(live_server.url)
    res = CliRunner().invoke(
        app, ["provision", "--port", fob.port, "--monitor", live_server.url, "--token", token]
    )
    assert res.exit_code == 0, res.output
    assert "provisioned" in res.output
    device_id = int(res.output.split("device ")[1].split()[0])
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.get(f"/v1/devices/{device_id}").json()["test_ok_at"]
    # The key exists only on the fob and (encrypted) in the monitor: not in our output or cwd.
    assert list(workdir.iterdir()) == []
    key_hex = prov.provision(fob.port, live_server.url, token, force=True).key_hex
    res = CliRunner().invoke(
        app,
        [
            "provision",
            "--port",
            fob.port,
            "--monitor",
            live_server.url,
            "--token",
            token,
            "--force",
        ],
    )
    assert res.exit_code == 0 and key_hex not in res.output


def test_fob_reset_asks_first_then_wipes_the_identity(fob: SimFob, live_server: LiveServer) -> None:
    token = admin_token(live_server.url)
    first = prov.provision(fob.port, live_server.url, token)
    app = typer.Typer()
    register(app)
    res = CliRunner().invoke(app, ["fob", "reset", "--port", fob.port], input="n\n")
    assert res.exit_code == 1 and "Erase the identity" in res.output
    assert prov.status(fob.port)["device_id"] == first.device_id, "refused, yet reset"
    res = CliRunner().invoke(app, ["fob", "reset", "--port", fob.port], input="y\n")
    assert res.exit_code == 0, res.output
    assert "reset" in res.output and "key wiped" in res.output
    st = prov.status(fob.port)
    assert not st["provisioned"] and st["device_id"] is None
    assert fob.stored_key() is None
    # Wiped, it provisions again without --force, under a new id and key.
    again = prov.provision(fob.port, live_server.url, token)
    assert again.verified and again.device_id != first.device_id
    assert again.key_hex != first.key_hex and fob.stored_key() == bytes.fromhex(again.key_hex)


def test_fob_reset_yes_skips_the_question(fob: SimFob, live_server: LiveServer) -> None:
    prov.provision(fob.port, live_server.url, admin_token(live_server.url))
    app = typer.Typer()
    register(app)
    res = CliRunner().invoke(app, ["fob", "reset", "--port", fob.port, "--yes"])
    assert res.exit_code == 0, res.output
    assert "Erase" not in res.output
    assert not prov.status(fob.port)["provisioned"]


def test_fob_reset_on_a_silent_port_says_what_to_check() -> None:
    import os

    master, slave = os.openpty()
    try:
        app = typer.Typer()
        register(app)
        res = CliRunner().invoke(app, ["fob", "reset", "--port", os.ttyname(slave), "--yes"])
        assert res.exit_code == 1
        assert "no reply" in res.output and "vigil flash" in res.output
    finally:
        os.close(master)
        os.close(slave)


def test_monitor_unreachable_is_explained(fob: SimFob) -> None:
    with pytest.raises(prov.RegistrationUnreachable) as err:
        prov.provision(fob.port, "http://127.0.0.1:9", "token")
    assert "--monitor" in err.value.hint


def test_wrong_token_is_explained(fob: SimFob, live_server: LiveServer) -> None:
    with pytest.raises(prov.RegistrationRefused):
        prov.provision(fob.port, live_server.url, "not-a-token")


def test_silent_port_is_not_a_fob(tmp_path: Path) -> None:
    import os

    master, slave = os.openpty()
    try:
        with pytest.raises(ToolingError) as err:
            prov.status(os.ttyname(slave))
        assert "no reply" in str(err.value)
    finally:
        os.close(master)
        os.close(slave)
