"""Assemble a running gateway from its configuration."""

from __future__ import annotations

import asyncio
import logging

from gateway.config import GatewayConfig
from gateway.monitor_client import MonitorClient
from gateway.queue import FrameQueue
from gateway.relay import Relay
from gateway.serial_transport import SerialTransport
from gateway.transport import Transport

log = logging.getLogger("vigil.gateway")


def build_transports(config: GatewayConfig) -> list[Transport]:
    transports: list[Transport] = []
    if config.serial_ports or config.auto_detect:
        transports.append(SerialTransport(config.serial_ports, auto_detect=config.auto_detect))
    if config.ble:
        from gateway.ble_transport import BleTransport
        from gateway.pairing import Allowlist

        transports.append(BleTransport(Allowlist(config.allowlist)))
    return transports


async def run_gateway(config: GatewayConfig) -> None:
    queue = FrameQueue(config.queue)
    client = MonitorClient(config.monitor_url, config.token)
    relay = Relay(queue, client, build_transports(config), location=config.location)
    log.info("gateway up: %d frames waiting in %s", queue.depth(), config.queue)
    try:
        await relay.run()
    finally:
        await client.aclose()
        queue.close()


def main(config: GatewayConfig) -> None:
    asyncio.run(run_gateway(config))
