"""`vigil firmware build`, `vigil flash`: the engineer's path from a bare board to running code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from tooling import build as build_mod
from tooling import flash as flash_mod
from tooling import provision as prov
from tooling.errors import ToolingError

console = Console(stderr=True)
firmware_app = typer.Typer(help="Build the fob's firmware.", no_args_is_help=True)
DIST = Path("dist")

BoardOpt = Annotated[
    str, typer.Option("--board", help=f"Board profile: {', '.join(build_mod.BOARDS)}.")
]


def fail(err: ToolingError) -> NoReturn:
    console.print(f"[bold red]error:[/] {err}")
    if err.hint:
        console.print(f"[yellow]what to do:[/] {err.hint}")
    raise typer.Exit(code=1)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
    )


@firmware_app.command("build")
def build_cmd(
    board: BoardOpt = "m5stickc-plus2",
    out: Annotated[Path, typer.Option(help="Output folder.")] = DIST,
) -> None:
    """Compile protocol/, firmware/ and the board's hardware/ modules to .mpy, with a manifest."""
    total = len(build_mod.device_sources())
    try:
        with _progress() as bar:
            task = bar.add_task(f"mpy-cross for {board}", total=total)
            files = build_mod.build(board, out, progress=lambda _: bar.advance(task))
    except ToolingError as e:
        fail(e)
    size = sum(f.size for f in files)
    console.print(f"[green]built[/] {len(files)} files, {size / 1024:.1f} KiB, in {out / board}")


def flash_cmd(
    port: Annotated[str, typer.Option("--port", help="Serial port, e.g. /dev/ttyUSB0.")],
    board: BoardOpt = "m5stickc-plus2",
    micropython: Annotated[
        Path | None, typer.Option(help="MicroPython firmware .bin to write first (erases flash).")
    ] = None,
    dist: Annotated[Path, typer.Option(help="Build folder from `vigil firmware build`.")] = DIST,
    no_libs: Annotated[
        bool, typer.Option("--no-libs", help="Skip micropython-lib packages (aioble).")
    ] = False,
) -> None:
    """Write MicroPython (optional), deploy the build with mpremote, verify it, reset the board."""
    chip = build_mod.BOARDS.get(board, ("esp32", ""))[0]
    try:
        with _progress() as bar:
            if micropython is not None:
                task = bar.add_task("esptool", total=None)
                flash_mod.write_image(
                    port, micropython, chip, lambda s: bar.update(task, description=s)
                )
                bar.update(task, description="MicroPython written", total=1, completed=1)
            manifest = build_mod.load_manifest(dist / board)
            n_files = len(manifest["files"])  # type: ignore[arg-type]
            task = bar.add_task("deploy", total=n_files)
            n = flash_mod.deploy(
                port,
                dist / board,
                lambda s: bar.update(task, description=s, advance=1 if s.startswith("copy") else 0),
                mip_packages=() if no_libs else flash_mod.MIP_PACKAGES,
            )
    except ToolingError as e:
        fail(e)
    console.print(f"[green]deployed and verified[/] {n} files on {port}; board reset")


PortOpt = Annotated[str, typer.Option("--port", help="The fob's serial port.")]
fob_app = typer.Typer(help="Look at or reset a fob over its USB serial port.", no_args_is_help=True)


def provision_cmd(
    port: PortOpt,
    monitor: Annotated[str, typer.Option(help="Monitor URL.", envvar="VIGIL_MONITOR_URL")],
    token: Annotated[
        str, typer.Option(help="Admin API token.", envvar="VIGIL_ADMIN_TOKEN", show_default=False)
    ],
    force: Annotated[bool, typer.Option(help="Re-provision a fob that has an identity.")] = False,
    worker: Annotated[int | None, typer.Option(help="Assign to this worker id.")] = None,
    show_key: Annotated[
        bool, typer.Option("--show-key", help="Print the device key (it is never saved).")
    ] = False,
) -> None:
    """Register the fob with the monitor, write its id and key over USB, verify a signed frame."""
    try:
        with _progress() as bar:
            task = bar.add_task("provisioning", total=4)
            done = prov.provision(
                port,
                monitor,
                token,
                force=force,
                worker_id=worker,
                progress=lambda s: bar.update(task, description=s, advance=1),
            )
            bar.update(task, completed=4)
    except ToolingError as e:
        fail(e)
    console.print(
        f"[green]provisioned[/] device {done.device_id} ({done.board}, firmware {done.firmware}); "
        "the monitor verified its signed test frame"
    )
    if show_key:
        console.print(f"device key: {done.key_hex}")


def _show(rows: dict[str, object]) -> None:
    from rich.table import Table

    table = Table(show_header=False)
    for k, v in rows.items():
        table.add_row(k, "-" if v is None else str(v))
    Console().print(table)


@fob_app.command("status")
def fob_status(port: PortOpt) -> None:
    """Identity, battery, outbox, sensor health, free heap, uptime."""
    try:
        _show(prov.status(port))
    except ToolingError as e:
        fail(e)


@fob_app.command("config")
def fob_config(port: PortOpt) -> None:
    """Current settings (changed from the monitor, which holds the key)."""
    try:
        _show(prov.config(port))
    except ToolingError as e:
        fail(e)


@fob_app.command("logs")
def fob_logs(
    port: PortOpt, seconds: Annotated[float, typer.Option(help="How long to listen.")] = 10.0
) -> None:
    """What the fob says on its serial console."""
    try:
        for line in prov.logs(port, seconds):
            Console().print(line)
    except ToolingError as e:
        fail(e)


@fob_app.command("reset")
def fob_reset(
    port: PortOpt,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Factory reset: wipe the fob's identity, key, settings and pending alarms."""
    if not yes:
        typer.confirm(
            f"Erase the identity and key of the fob on {port}? It sends no alarms until it is "
            "provisioned again, and its pending alarms are discarded",
            abort=True,
        )
    try:
        said = prov.reset(port)
    except ToolingError as e:
        fail(e)
    console.print(
        f"[green]reset[/] the fob on {port} ({said}); `vigil provision` gives it an identity"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(firmware_app, name="firmware")
    app.command("flash")(flash_cmd)
    app.command("provision")(provision_cmd)
    app.add_typer(fob_app, name="fob")
