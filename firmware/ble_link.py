# The BLE link on the fob: a GATT peripheral (aioble) with a notify characteristic for uplink
# frames and a write characteristic for downlink frames. Device only (bluetooth).
#
# Bonding is required: nothing is notified and no write is acted on until the link is
# encrypted with a bonded key (LE Secure Connections). Provisioning messages are refused here:
# only the USB serial port, in the worker's hands, may set the key.
#
# New bonds only inside the pairing window (firmware/pairing.py, five taps). MicroPython has no
# "pairing requested" event to say no to, so the decision is made where NimBLE touches its key
# store (checked against NimBLE on the unix port, docs/firmware.md): an unknown peer's Pairing
# Request makes NimBLE look up that peer's keys (_IRQ_GET_SECRET), and outside the window the
# link is cut there, before the pairing completes; should a pairing complete anyway, storing its
# keys (_IRQ_SET_SECRET) is refused, so no bond is made, and the connection is dropped. A bonded
# peer re-encrypting from the store writes nothing, so it reconnects at any time. The fob has
# one connection: a central that is not on a bond within STRANGER_MS is disconnected, so a
# stranger cannot hold the link that a bonded gateway or phone needs.
import asyncio
import time

import aioble
import aioble.core
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
_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GET_SECRET = const(29)
_IRQ_SET_SECRET = const(30)
_SEC_OUR = const(1)  # NimBLE BLE_STORE_OBJ_TYPE_OUR_SEC: our keys for one peer
_SEC_PEER = const(2)  # BLE_STORE_OBJ_TYPE_PEER_SEC: that peer's keys (the IRK type 10 is ours)
# How often the connection is looked at. A new pairing's key write follows its encryption
# update within the same NimBLE step, so one look later a refusal is already flagged: a link is
# trusted (frames notified) only after that look.
_WATCH_MS = const(100)


class BleLink:
    kind = "ble"

    def __init__(self):
        aioble.security.load_secrets(_SECRETS)
        aioble.config(bond=True, le_secure=True, mitm=False, io=_IO_NO_INPUT_OUTPUT)
        svc = aioble.Service(_SERVICE)
        self._frames = aioble.Characteristic(
            svc, bluetooth.UUID(ble_uuids.FRAMES), read=False, notify=True
        )
        self._down = aioble.Characteristic(
            svc, bluetooth.UUID(ble_uuids.DOWNLINK), write=True, capture=True
        )
        self._down.flags |= _FLAG_WRITE_ENCRYPTED
        aioble.register_services(svc)
        self._conn = None
        self._trusted = False  # this connection is on a bond (restored, or made in the window)
        self._refuse = False  # set in the IRQ: this connection tried to bond outside the window
        self._new_bond = False  # set in the IRQ: a bond was stored inside the window
        self._handle = -1  # connection handle of the central, from the IRQ
        self._fob = None
        self._window = None
        self.rejected = 0
        # Ours first, then aioble's: only we can answer "no" to a key write.
        aioble.core.ble.irq(self._irq)

    @property
    def up(self):
        c = self._conn
        return self._trusted and c is not None and c.is_connected() and c.encrypted

    def attach(self, fob, admin=None):
        self._fob = fob  # admin deliberately ignored: no provisioning over the air
        self._window = fob.pairing

    def _irq(self, event, data):
        # May run in the stack's context: flags and one disconnect, nothing allocated.
        if event == _IRQ_CENTRAL_CONNECT:
            # Known here, before advertise() returns the connection, which a quick central may
            # already have tried to pair on (and been cut off) by then.
            self._handle = data[0]
            self._refuse = False
            self._new_bond = False
        elif event == _IRQ_CENTRAL_DISCONNECT:
            self._handle = -1
        w = self._window
        closed = w is None or not w.is_open
        if event == _IRQ_GET_SECRET and data[0] == _SEC_PEER and data[2] is not None:
            # On a peripheral NimBLE looks up a peer's keys by address when that peer sends a
            # Pairing Request (is it bonded already?) or touches a protected attribute before
            # encrypting. A bonded peer re-encrypting reads our keys (type 1), not these.
            result = aioble.core.ble_irq(event, data)
            if closed and result is None:
                # An unknown peer asking to pair outside the window: end the link now, before
                # the pairing can complete, so the central does not believe it has a bond.
                self._refuse = True
                if self._handle >= 0:
                    aioble.core.ble.gap_disconnect(self._handle)
            return result
        if (
            event == _IRQ_SET_SECRET
            and data[2] is not None
            and (data[0] == _SEC_OUR or data[0] == _SEC_PEER)
        ):
            if closed:
                self._refuse = True
                return False  # NimBLE: the store write fails, no bond is made or replaced
            self._new_bond = True
        # Deletes pass: NimBLE retries a repeat pairing until the old bond is gone, so refusing
        # one would spin its host task.
        return aioble.core.ble_irq(event, data)

    def send(self, frame):
        if not self.up:
            return False
        try:
            self._frames.notify(self._conn, frame)
            return True
        except (OSError, ValueError):
            return False

    def poll(self):
        pass  # writes arrive in _rx_task; the connection is watched in run()

    async def run(self):
        asyncio.create_task(self._rx_task())
        while True:
            conn = await aioble.advertise(
                _ADV_INTERVAL_US, name=ble_uuids.ADV_NAME, services=[_SERVICE]
            )
            self._trusted = False
            self._conn = conn
            await self._watch(conn)
            self._conn = None
            self._trusted = False

    async def _watch(self, conn):
        # Until the connection ends: trust it once it is on a bond, drop it if it tried to bond
        # outside the window or is still not on a bond after its time.
        since = time.ticks_ms()
        w = self._window
        while conn.is_connected():
            await asyncio.sleep_ms(_WATCH_MS)
            w = self._window
            if self._new_bond:
                self._new_bond = False
                if w is not None:
                    w.bonded()
            if self._refuse:
                break
            if conn.encrypted and conn.bonded:
                self._trusted = True
            elif self._trusted or w is None or not w.may_stay(since, time.ticks_ms()):
                if w is not None:
                    w.dropped += 1
                break
        self._trusted = False
        if w is not None:
            if self._new_bond:  # bonded and gone within one look (`vigil gateway pair`)
                self._new_bond = False
                w.bonded()
            if self._refuse:
                w.refuse()  # counted once per connection, even if the IRQ already cut it
        if conn.is_connected():
            try:
                await conn.disconnect()
            except (OSError, asyncio.TimeoutError):
                pass

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
