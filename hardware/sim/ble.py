# The simulated fob's BLE side: a GATT peripheral on Google's bumble, in place of the ESP32's
# NimBLE. It advertises the Vigil service, accepts pairing only while in pairing mode (LE Secure
# Connections, bonding, Just Works: the fob has no display), and neither notifies nor accepts
# writes on a link that is not encrypted.
#
# Radio: bumble controllers joined by an in-memory LocalLink stand in for the air. In one process
# (tests) the fob's controller sits on the LocalLink directly. Across processes (`make run`,
# `run_fob --ble`) the air runs in its own process (`python -m hardware.sim.ble air ...`) and
# each side reaches its controller over an HCI transport (TCP), as a host reaches a real
# controller over UART or USB.
import argparse
import asyncio
import logging
import os
import queue
import threading

from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.device import Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import Address
from bumble.host import Host
from bumble.keys import JsonKeyStore, MemoryKeyStore
from bumble.link import LocalLink
from bumble.pairing import PairingConfig, PairingDelegate
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink

from gateway import ble_profile

log = logging.getLogger("vigil.sim.ble")

ADV_INTERVAL_MS = 20.0  # fast advertising while unconnected: reconnects within tens of ms
PAIRING_WINDOW_S = 120.0  # run_fob --ble: pairable this long after start (the long press)
ENV_HCI = "VIGIL_SIM_BLE_HCI"  # e.g. tcp-client:127.0.0.1:9302 (the air's port for this fob)
ENV_ADDRESS = "VIGIL_SIM_BLE_ADDRESS"  # static random address, e.g. F0:00:00:00:00:01
ENV_BONDS = "VIGIL_SIM_BLE_BONDS"  # JSON file keeping the fob's bonds across restarts


class _FobPairingDelegate(PairingDelegate):
    def __init__(self, fob):
        super().__init__(io_capability=PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT)
        self._fob = fob

    async def accept(self):
        # Pairing mode is a long press on the real fob; outside it, strangers are refused.
        return self._fob.pairable

    async def confirm(self, auto=False):
        return self._fob.pairable


class BleFob:
    # The peripheral, asyncio-native. Build with on_local_link() or over_hci().
    def __init__(self, device, device_id, on_downlink=None):
        self.device_id = device_id
        self.address = device.random_address.to_string(False)
        self.name = "%s-%06x" % (ble_profile.NAME_PREFIX, device_id)
        self.on_downlink = on_downlink or (lambda frame: None)
        self.pairable = False
        self.downlinks = []
        self.notified = 0
        self.refused_writes = 0
        self.device = device
        if device.keystore is None:
            device.keystore = MemoryKeyStore()
        device.pairing_config_factory = lambda connection: PairingConfig(
            sc=True,
            mitm=False,
            bonding=True,
            delegate=_FobPairingDelegate(self),
            # Our static random address is our identity: bonds stay valid across reconnects.
            identity_address_type=PairingConfig.AddressType.RANDOM,
        )
        self.frame_char = Characteristic(
            ble_profile.FRAME_UUID,
            Characteristic.Properties.NOTIFY,  # as firmware/ble_link.py: notify only
            Characteristic.Permissions.READ_REQUIRES_ENCRYPTION,
            b"",
        )
        self.downlink_char = Characteristic(
            ble_profile.DOWNLINK_UUID,
            Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            Characteristic.Permissions.WRITE_REQUIRES_ENCRYPTION,
            CharacteristicValue(write=self._on_write),
        )
        device.add_service(Service(ble_profile.SERVICE_UUID, [self.frame_char, self.downlink_char]))
        self.connection = None
        device.on("connection", self._on_connection)

    @classmethod
    def on_local_link(cls, link, address, device_id, on_downlink=None):
        controller = Controller("fob-%s" % address, link=link, public_address=address)
        device = Device(
            name="fob", address=Address(address), host=Host(controller, AsyncPipeSink(controller))
        )
        return cls(device, device_id, on_downlink)

    @classmethod
    async def over_hci(cls, spec, address, device_id, on_downlink=None, bonds=None):
        transport = await open_transport(spec)
        device = Device.with_hci("fob", Address(address), transport.source, transport.sink)
        if bonds:
            device.keystore = JsonKeyStore(address, bonds)
        fob = cls(device, device_id, on_downlink)
        fob.transport = transport
        return fob

    async def start(self):
        await self.device.power_on()
        await self.advertise()

    async def advertise(self):
        data = AdvertisingData(
            [
                (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
                (
                    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                    bytes(UUID(ble_profile.SERVICE_UUID)),
                ),
            ]
        )
        await self.device.start_advertising(
            advertising_data=bytes(data),
            auto_restart=True,
            advertising_interval_min=ADV_INTERVAL_MS,
        )

    def _on_connection(self, connection):
        self.connection = connection
        connection.on("disconnection", lambda reason: self._on_disconnection(connection))

    def _on_disconnection(self, connection):
        if self.connection is connection:
            self.connection = None

    def _on_write(self, connection, value):
        # bumble enforces WRITE_REQUIRES_ENCRYPTION before calling us; check again so the
        # simulated fob cannot be weaker than the permission table says.
        if not connection.is_encrypted:
            self.refused_writes += 1
            return
        frame = bytes(value)
        self.downlinks.append(frame)
        self.on_downlink(frame)

    @property
    def ready(self):
        # A frame can go out: connected, encrypted (so bonded/paired) and subscribed.
        c = self.connection
        return c is not None and c.is_encrypted and bool(self.device.gatt_server.subscribers.get(c))

    async def send(self, frame):
        # Notify one uplink frame. False if no secure subscriber: the fob keeps it in its outbox.
        if not self.ready:
            return False
        await self.device.notify_subscribers(self.frame_char, bytes(frame))
        self.notified += 1
        return True

    async def out_of_range(self):
        # The worker walks away: the link drops and the gateway stops hearing advertisements.
        await self.device.stop_advertising()
        if self.connection is not None:
            await self.connection.disconnect()

    async def back_in_range(self):
        await self.advertise()


class BleLink:
    # The firmware's link interface (hardware/README.md) over a BleFob running on its own
    # asyncio thread. send() never blocks; downlinks are queued and handed to the Fob from
    # poll(), on the firmware's main-loop thread, because Fob is not thread-safe.
    kind = "ble"

    def __init__(
        self, hci=None, address=None, device_id=None, bonds=None, pairing_window_s=PAIRING_WINDOW_S
    ):
        self._hci = hci or os.environ.get(ENV_HCI, "tcp-client:127.0.0.1:9302")
        self._address = address or os.environ.get(ENV_ADDRESS, "F0:00:00:00:00:01")
        self._bonds = bonds or os.environ.get(ENV_BONDS)
        self._device_id = device_id or 0
        self._pairing_window_s = pairing_window_s
        self._inbox = queue.Queue()
        self._in_range = True
        self._fob = None
        self.ble = None
        self.error = None
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-ble", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        try:
            self.ble = self._loop.run_until_complete(
                BleFob.over_hci(
                    self._hci, self._address, self._device_id, self._inbox.put, self._bonds
                )
            )
            self.ble.pairable = True
            self._loop.run_until_complete(self.ble.start())
            self._loop.call_later(self._pairing_window_s, self._close_pairing)
        except Exception as e:  # no air to talk to: the fob runs on serial alone
            self.error = e
            log.warning("simulated BLE unavailable (%s): %s", self._hci, e)
        finally:
            self._started.set()
        if self.error is None:
            self._loop.run_forever()

    def _close_pairing(self):
        self.ble.pairable = False

    @property
    def up(self):
        return self._in_range and self.ble is not None and self.ble.ready

    @up.setter
    def up(self, value):
        # run_fob's `link down` / `link up`: on BLE that is walking out of and back into range.
        # Out of range takes effect at once for sending; the disconnect follows on our thread.
        self._in_range = bool(value)
        self.set_in_range(self._in_range)

    def attach(self, fob, admin=None):
        self._fob = fob  # admin ignored: provisioning is serial only

    def send(self, frame):
        if not self.up:
            return False
        asyncio.run_coroutine_threadsafe(self.ble.send(bytes(frame)), self._loop)
        return True

    def poll(self):
        fob = self._fob
        while fob is not None:
            try:
                frame = self._inbox.get_nowait()
            except queue.Empty:
                return
            fob.on_downlink(frame)

    def set_in_range(self, in_range):
        if self.ble is None:
            return
        coro = self.ble.back_in_range() if in_range else self.ble.out_of_range()
        asyncio.run_coroutine_threadsafe(coro, self._loop)


async def run_air(specs):
    # The simulated air: one LocalLink, one controller per HCI transport (one per host, the
    # gateway's and each fob's), each reachable over its transport (e.g. tcp-server:_:9301).
    link = LocalLink()
    transports = []
    for i, spec in enumerate(specs):
        transport = await open_transport(spec)
        transports.append(transport)
        Controller("air-%d" % i, host_source=transport.source, host_sink=transport.sink, link=link)
    print("air up: %s" % " ".join(specs), flush=True)  # listening: hosts may connect now
    try:
        await asyncio.get_running_loop().create_future()
    finally:
        for t in transports:
            await t.close()


def main():
    ap = argparse.ArgumentParser(prog="python -m hardware.sim.ble")
    sub = ap.add_subparsers(dest="cmd", required=True)
    air = sub.add_parser("air", help="run the simulated air: controllers on HCI transports")
    air.add_argument("transports", nargs="+", help="e.g. tcp-server:127.0.0.1:9301")
    args = ap.parse_args()
    if args.cmd == "air":
        asyncio.run(run_air(args.transports))


if __name__ == "__main__":
    main()
