"""The `vigil` command. Each role's command group lives with its role; this module only joins
the ones whose extra is installed: a Pi with `vigil[gateway]` has `vigil gateway` and no
esptool, an engineer's laptop with `vigil[tooling]` has `vigil firmware|flash|provision|fob`."""

from __future__ import annotations

import importlib
from types import ModuleType

import typer

OUR_PACKAGES = ("gateway", "tooling", "protocol", "firmware", "hardware", "vigil")

app = typer.Typer(help="Vigil lone-worker safety system.", no_args_is_help=True)


def _role(module: str) -> ModuleType | None:
    """The role's command module, or None when a library of its extra is not installed. A
    missing module of our own is a bug, not a missing extra, and is raised."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] in OUR_PACKAGES:
            raise
        return None


gateway_commands = _role("gateway.commands")
if gateway_commands is not None:
    app.add_typer(gateway_commands.app, name="gateway")
tooling_cli = _role("tooling.cli")
if tooling_cli is not None:
    tooling_cli.register(app)  # vigil firmware build, flash, provision, fob

if __name__ == "__main__":
    app()
