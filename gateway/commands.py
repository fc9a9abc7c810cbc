"""`vigil gateway ...`: run the relay, show its queue, pair BLE fobs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gateway import config as config_mod
from gateway.errors import GatewayError
from gateway.queue import FrameQueue

app = typer.Typer(help="Relay fobs' frames to the monitor.", no_args_is_help=True)
console = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", envvar="VIGIL_GATEWAY_CONFIG", help="TOML file")
]


@app.command()
def run(
    config: ConfigOpt = None,
    monitor_url: Annotated[str | None, typer.Option(envvar="VIGIL_GATEWAY_MONITOR_URL")] = None,
    token: Annotated[str | None, typer.Option(envvar="VIGIL_GATEWAY_TOKEN")] = None,
    serial: Annotated[
        list[str] | None, typer.Option("--serial", help="serial port of a fob (repeatable)")
    ] = None,
    auto_detect: Annotated[
        bool | None, typer.Option("--auto-detect", help="find fobs by USB vendor/product id")
    ] = None,
    ble: Annotated[bool | None, typer.Option("--ble/--no-ble", envvar="VIGIL_GATEWAY_BLE")] = None,
    queue: Annotated[Path | None, typer.Option(envvar="VIGIL_GATEWAY_QUEUE")] = None,
    allowlist: Annotated[Path | None, typer.Option(envvar="VIGIL_GATEWAY_ALLOWLIST")] = None,
    ble_hci: Annotated[
        str | None,
        typer.Option(envvar="VIGIL_GATEWAY_BLE_HCI", help="bumble HCI transport, e.g. usb:0"),
    ] = None,
    lat: Annotated[float | None, typer.Option(help="fixed gateway latitude")] = None,
    lon: Annotated[float | None, typer.Option(help="fixed gateway longitude")] = None,
    accuracy_m: Annotated[float, typer.Option(help="radius of the gateway site, m")] = 50.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    timing: Annotated[bool, typer.Option(help="log per-frame stage times (benchmarks)")] = False,
) -> None:
    """Relay frames between fobs and the monitor until stopped."""
    from gateway.service import main

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per relayed frame
    if timing:
        logging.getLogger("vigil.gateway.timing").setLevel(logging.DEBUG)
    location = None
    if lat is not None and lon is not None:
        location = {"lat": lat, "lon": lon, "accuracy_m": accuracy_m}
    try:
        cfg = config_mod.load(
            config,
            {
                "monitor_url": monitor_url,
                "token": token,
                "serial_ports": serial,
                "auto_detect": auto_detect,
                "ble": ble,
                "queue": queue,
                "allowlist": allowlist,
                "location": location,
                "ble_hci": ble_hci,
            },
        )
    except GatewayError as e:
        console.print(f"[red]configuration error:[/red] {e}")
        raise typer.Exit(2) from e
    try:
        main(cfg)
    except KeyboardInterrupt:
        pass


@app.command()
def status(
    queue: Annotated[Path, typer.Option(envvar="VIGIL_GATEWAY_QUEUE")] = config_mod.DEFAULT_QUEUE,
) -> None:
    """Show how many frames are waiting for the monitor."""
    q = FrameQueue(queue)
    depth = q.depth()
    oldest = q.batch(1)
    q.close()
    console.print(f"{depth} frame(s) queued in {queue}")
    if oldest:
        console.print(f"most urgent received at {oldest[0].received_at} over {oldest[0].link}")


AllowlistOpt = Annotated[
    Path, typer.Option(envvar="VIGIL_GATEWAY_ALLOWLIST", help="paired-fob list")
]


@app.command()
def pair(
    allowlist: AllowlistOpt = config_mod.DEFAULT_ALLOWLIST,
    address: Annotated[str | None, typer.Option(help="pair this fob address only")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to look for the fob")] = 20.0,
    ble_hci: Annotated[
        str | None,
        typer.Option(envvar="VIGIL_GATEWAY_BLE_HCI", help="bumble HCI transport, e.g. usb:0"),
    ] = None,
) -> None:
    """Pair a fob whose pairing window is open (five quick taps) and add it to the allowlist."""
    import asyncio

    from gateway.config import GatewayConfig
    from gateway.pairing import Allowlist, pair_new_fob
    from gateway.service import ble_stack

    cfg = GatewayConfig(allowlist=allowlist, ble=True, ble_hci=ble_hci)

    async def go() -> tuple[str, str | None]:
        return await pair_new_fob(
            Allowlist(allowlist), await ble_stack(cfg), address=address, scan_timeout=timeout
        )

    # Never "hold the button": a hold is an SOS.
    console.print("Tap the fob's button five times quickly; it buzzes five times when ready...")
    try:
        addr, name = asyncio.run(go())
    except GatewayError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from e
    console.print(f"[green]paired[/green] {name or '?'} at {addr}; restart `vigil gateway run`")


@app.command()
def fobs(allowlist: AllowlistOpt = config_mod.DEFAULT_ALLOWLIST) -> None:
    """List the fobs paired with this gateway."""
    from rich.table import Table

    from gateway.pairing import Allowlist

    table = Table("address", "name")
    for addr, info in Allowlist(allowlist).fobs().items():
        table.add_row(addr, str(info.get("name") or ""))
    Console().print(table)


@app.command()
def unpair(address: str, allowlist: AllowlistOpt = config_mod.DEFAULT_ALLOWLIST) -> None:
    """Remove a fob from the allowlist (the gateway will ignore it from its next start)."""
    from gateway.pairing import Allowlist

    if not Allowlist(allowlist).remove(address):
        console.print(f"[yellow]{address} was not paired[/yellow]")
        raise typer.Exit(1)
    console.print(f"removed {address}")
