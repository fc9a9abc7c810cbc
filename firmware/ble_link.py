# The BLE link on the fob: a GATT peripheral (aioble) with a notify characteristic for uplink
# frames and a write characteristic for downlink frames. Device only (bluetooth).
#
# Bonding is required: nothing is notified and no write is acted on until the link is
# encrypted with a bonded key (LE Secure Connections). Provisioning messages are refused here:
# only the USB serial port, in the worker's hands, may set the key.
import asyncio

import aioble
import aioble.security
import bluetooth
from micropython import const

from firmware import ble_uuids
from protocol import frame_types as ft
from protocol.frames import FRAME_LEN

_ADV_INTERVAL_US = 250_000  # quick reconnect after the gateway restarts, modest power
_FLAG_WRITE_ENCRYPTED = const(0x1000)  # the stack itself refuses writes before encryption
_IO_NO_INPUT_OUTPUT = const(3)  # a fob has no display or keypad: "just works" LE SC pairing
_SECRETS = "/vigil/ble_secrets.json"  # bonds survive reboots, so the gateway reconnects
_SERVICE = bluetooth.UUID(ble_uuids.SERVICE)


class BleLink:
    kind = "ble"

    def __init__(self):
        aioble.security.load_secrets(_SECRETS)
        aioble.config(bond=True, le_secure=True, mitm=False, io=_IO_NO_INPUT_OUTPUT)
        svc = aioble.Service(_SERVICE)
        self._frames = aioble.Characteristic(
            svc, bluetooth.UUID(ble_uuids.FRAMES), read=False, notify=True)
        self._down = aioble.Characteristic(
            svc, bluetooth.UUID(ble_uuids.DOWNLINK), write=True, capture=True)
        self._down.flags |= _FLAG_WRITE_ENCRYPTED
        aioble.register_services(svc)
        self._conn = None
        self._fob = None
        self.rejected = 0

    @property
    def up(self):
        c = self._conn
        return c is not None and c.is_connected() and c.encrypted

    def attach(self, fob, admin=None):
        self._fob = fob  # admin deliberately ignored: no provisioning over the air

    def send(self, frame):
        if not self.up:
            return False
        try:
            self._frames.notify(self._conn, frame)
            return True
        except (OSError, ValueError):
            return False

    def poll(self):
        pass  # writes arrive in _rx_task

    async def run(self):
        asyncio.create_task(self._rx_task())
        while True:
            self._conn = await aioble.advertise(
                _ADV_INTERVAL_US, name=ble_uuids.ADV_NAME, services=[_SERVICE])
            await self._conn.disconnected(timeout_ms=None)
            self._conn = None

    async def _rx_task(self):
        while True:
            conn, data = await self._down.written()
            if conn is not self._conn or not self.up:
                self.rejected += 1  # unbonded writer: ignored
                continue
            if len(data) != FRAME_LEN or ft.direction(data[0] & 0x1F) != ft.DOWNLINK:
                self.rejected += 1  # includes provisioning messages: serial only
                continue
            if self._fob is not None:
                self._fob.on_downlink(bytes(data))
