"""The `vigil` command. Each command group lives in its own module; this file only joins them."""

import typer

from gateway.commands import app as gateway_app
from gateway.tooling import cli as tooling_cli

app = typer.Typer(help="Vigil lone-worker safety system.", no_args_is_help=True)
app.add_typer(gateway_app, name="gateway")
tooling_cli.register(app)  # vigil firmware build, flash, provision, fob

if __name__ == "__main__":
    app()
