"""Assemble a running gateway from its configuration."""

from __future__ import annotations

import asyncio
import logging
import signal

from gateway.ble_stack import BleStack
from gateway.config import GatewayConfig
from gateway.monitor_client import MonitorClient
from gateway.queue import FrameQueue
from gateway.relay import Relay
from gateway.serial_transport import SerialTransport
from gateway.transport import Transport

log = logging.getLogger("vigil.gateway")


async def ble_stack(config: GatewayConfig) -> BleStack:
    """The OS's Bluetooth stack through bleak, or bumble on an HCI transport if configured."""
    if config.ble_hci is None:
        return BleStack()
    from gateway.bumble_backend import central_over_hci

    config.bonds.parent.mkdir(parents=True, exist_ok=True)
    device = await central_over_hci(config.ble_hci, config.ble_address, str(config.bonds))
    return BleStack.bumble(device)


async def build_transports(config: GatewayConfig) -> list[Transport]:
    transports: list[Transport] = []
    if config.serial_ports or config.auto_detect:
        transports.append(SerialTransport(config.serial_ports, auto_detect=config.auto_detect))
    if config.ble:
        from gateway.ble_transport import BleTransport
        from gateway.pairing import Allowlist

        transports.append(BleTransport(Allowlist(config.allowlist), await ble_stack(config)))
    return transports


async def run_gateway(config: GatewayConfig) -> None:
    queue = FrameQueue(config.queue)
    client = MonitorClient(config.monitor_url, config.token)
    relay = Relay(queue, client, await build_transports(config), location=config.location)
    log.info("gateway up: %d frames waiting in %s", queue.depth(), config.queue)
    try:
        await relay.run()
    finally:
        await client.aclose()
        queue.close()


async def _until_signalled(config: GatewayConfig) -> None:
    # systemd stops services with SIGTERM: leave cleanly (the queue is safe either way).
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await run_gateway(config)
    except asyncio.CancelledError:
        log.info("gateway stopping")


def main(config: GatewayConfig) -> None:
    asyncio.run(_until_signalled(config))
