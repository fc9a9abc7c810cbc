"""Each role installs only its own libraries: a Pi gateway with `vigil[gateway]` imports the
whole gateway and runs `vigil gateway`, without FastAPI, SQLAlchemy or esptool on it.

Real install, no mock: a fresh virtual environment, `pip install '<repo>[gateway]'` from the
package registries this machine uses, then the gateway's modules imported there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

NOT_SOURCE = (".git", ".venv", "node_modules", "var", "build", "dist", "*.egg-info", "__pycache__")

IMPORT_EVERY_GATEWAY_MODULE = """
import importlib, pkgutil, gateway
names = sorted(m.name for m in pkgutil.walk_packages(gateway.__path__, "gateway."))
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_the_gateway_extra_alone_runs_the_gateway(tmp_path: Path) -> None:
    # pip builds a local project in place: build from a copy, so the checkout gains no build/.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    env_dir = tmp_path / "pi"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-input", f"{source}[gateway]"],
        check=True,
        cwd=tmp_path,  # not the checkout: the installed copy is what gets imported
        timeout=600,
    )
    run = subprocess.run(
        [str(py), "-c", IMPORT_EVERY_GATEWAY_MODULE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert int(run.stdout.strip()) >= 10  # the relay, queue, transports, BLE, commands...
    # The code of every role is in the one distribution; the libraries of the others are not.
    for other_role in ("fastapi", "sqlalchemy", "esptool", "monitor.api.main"):
        absent = subprocess.run(
            [str(py), "-c", f"import {other_role}"], capture_output=True, cwd=tmp_path
        )
        assert absent.returncode != 0, f"{other_role} was installed with the gateway extra"
    cli = subprocess.run(
        [str(env_dir / "bin" / "vigil"), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert "gateway" in cli.stdout and "firmware" not in cli.stdout


def test_the_dev_install_has_every_role() -> None:
    for module in ("gateway.relay", "monitor.api.main", "tooling.build", "devstack.localstack"):
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True, timeout=60)
