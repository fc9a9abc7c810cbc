# The simulated fob's BLE side: a GATT peripheral on Google's bumble, in place of the ESP32's
# NimBLE. It advertises the Vigil service, accepts pairing only while the fob's pairing window is
# open (firmware/pairing.py: five taps; LE Secure Connections, bonding, Just Works: the fob has
# no display), and neither notifies nor accepts writes on a link that is not on a bond. As on
# the device (firmware/ble_link.py): a pairing attempt outside the window is refused, counted and
# its connection dropped; a central not on a bond within STRANGER_MS is disconnected, so it
# cannot hold the fob's one connection; a bonded central re-encrypts at any time.
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

from firmware.pairing import PairingWindow
from gateway import ble_profile
from hardware.sim.clock import RealClock

log = logging.getLogger("vigil.sim.ble")

ADV_INTERVAL_MS = 20.0  # fast advertising while unconnected: reconnects within tens of ms
WATCH_S = 0.1  # how often a connection not yet on a bond is looked at
REFUSED_DROP_S = 0.05  # let the Pairing Failed PDU go out before the disconnect
ENV_HCI = "VIGIL_SIM_BLE_HCI"  # e.g. tcp-client:127.0.0.1:9302 (the air's port for this fob)
ENV_ADDRESS = "VIGIL_SIM_BLE_ADDRESS"  # static random address, e.g. F0:00:00:00:00:01
ENV_BONDS = "VIGIL_SIM_BLE_BONDS"  # JSON file keeping the fob's bonds across restarts


def apply_event(window, kind):
    # What the link saw, told to the pairing window (which counts and plays the pattern).
    if kind == "bonded":
        window.bonded()
    elif kind == "refused":
        window.refuse()
    elif kind == "dropped":
        window.dropped += 1


class _FobPairingDelegate(PairingDelegate):
    # One per connection: bumble asks it when that central starts pairing.
    def __init__(self, fob, connection):
        super().__init__(io_capability=PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT)
        self._fob = fob
        self._connection = connection

    async def accept(self):
        return self._fob.pairing_requested(self._connection)

    async def confirm(self, auto=False):
        return self._fob.window.is_open


class BleFob:
    # The peripheral, asyncio-native. Build with on_local_link() or over_hci().
    #
    # window: the fob's firmware.pairing.PairingWindow, read-only from here (its clock must be
    # real time); by default a window of its own, opened with `pairable = True`.
    # on_event(kind): "bonded" | "refused" | "dropped", to count and feed back on the window;
    # by default applied to the window at once (BleLink queues them for the firmware's thread).
    def __init__(self, device, device_id, on_downlink=None, window=None, on_event=None):
        self.device_id = device_id
        self.address = device.random_address.to_string(False)
        self.name = "%s-%06x" % (ble_profile.NAME_PREFIX, device_id)
        self.on_downlink = on_downlink or (lambda frame: None)
        self._clock = RealClock()
        self.window = window if window is not None else PairingWindow(self._clock)
        self.on_event = on_event or self._apply
        self.downlinks = []
        self.notified = 0
        self.refused_writes = 0
        self.pairing_refused = 0
        self.strangers_dropped = 0
        self.new_bonds = 0
        self._trusted = set()  # connections on a bond: restored from the keystore or made now
        self._pairing = set()  # connections that started pairing (so trust waits for its end)
        self.device = device
        if device.keystore is None:
            device.keystore = MemoryKeyStore()
        device.pairing_config_factory = lambda connection: PairingConfig(
            sc=True,
            mitm=False,
            bonding=True,
            delegate=_FobPairingDelegate(self, connection),
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
    def on_local_link(cls, link, address, device_id, on_downlink=None, window=None):
        controller = Controller("fob-%s" % address, link=link, public_address=address)
        device = Device(
            name="fob", address=Address(address), host=Host(controller, AsyncPipeSink(controller))
        )
        return cls(device, device_id, on_downlink, window)

    @classmethod
    async def over_hci(
        cls, spec, address, device_id, on_downlink=None, bonds=None, window=None, on_event=None
    ):
        transport = await open_transport(spec)
        device = Device.with_hci("fob", Address(address), transport.source, transport.sink)
        if bonds:
            device.keystore = JsonKeyStore(address, bonds)
        fob = cls(device, device_id, on_downlink, window, on_event)
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

    @property
    def pairable(self):
        return self.window.is_open

    @pairable.setter
    def pairable(self, value):
        # Tests of the gateway alone stand in for the five taps here.
        if value:
            self.window.open(self._clock.ticks_ms())
        else:
            self.window.close()

    def _apply(self, kind):
        apply_event(self.window, kind)

    def pairing_requested(self, connection):
        # The central sent a pairing request (new bond, or a bonded address pairing afresh).
        if self.window.is_open:
            self._pairing.add(connection)
            return True
        self.pairing_refused += 1
        self.on_event("refused")
        log.info("pairing refused outside the pairing window: %s", connection.peer_address)
        asyncio.get_running_loop().call_later(REFUSED_DROP_S, self._drop, connection)
        return False

    def _drop(self, connection):
        self._trusted.discard(connection)
        if connection.handle is not None and self.connection is connection:
            asyncio.ensure_future(connection.disconnect())

    def _on_connection(self, connection):
        self.connection = connection
        connection.on("disconnection", lambda reason: self._on_disconnection(connection))
        connection.on("pairing", lambda keys: self._on_paired(connection))
        connection.on(
            "connection_encryption_change", lambda: self._on_encryption_change(connection)
        )
        asyncio.ensure_future(self._watch(connection, self._clock.ticks_ms()))

    def _on_encryption_change(self, connection):
        # Without a pairing on this connection, encryption came from a stored bond: trusted.
        # After a pairing request, trust waits for the pairing to complete (_on_paired).
        if connection.is_encrypted and connection not in self._pairing:
            self._trusted.add(connection)

    def _on_paired(self, connection):
        # Only reachable inside the window (pairing_requested refused the rest).
        self._pairing.discard(connection)
        self._trusted.add(connection)
        self.new_bonds += 1
        self.on_event("bonded")

    async def _watch(self, connection, since):
        # A central not on a bond gets STRANGER_MS (more while the window is open), then goes.
        while self.connection is connection:
            await asyncio.sleep(WATCH_S)
            if self.connection is not connection or connection in self._trusted:
                return
            if not self.window.may_stay(since, self._clock.ticks_ms()):
                self.strangers_dropped += 1
                self.on_event("dropped")
                log.info("dropping %s: not on a bond in time", connection.peer_address)
                self._drop(connection)
                return

    def _on_disconnection(self, connection):
        self._trusted.discard(connection)
        self._pairing.discard(connection)
        if self.connection is connection:
            self.connection = None

    def _on_write(self, connection, value):
        # bumble enforces WRITE_REQUIRES_ENCRYPTION before calling us; check again (and for a
        # bond) so the simulated fob cannot be weaker than the permission table says.
        if not connection.is_encrypted or connection not in self._trusted:
            self.refused_writes += 1
            return
        frame = bytes(value)
        self.downlinks.append(frame)
        self.on_downlink(frame)

    @property
    def ready(self):
        # A frame can go out: connected, encrypted on a bond, and subscribed.
        c = self.connection
        return (
            c is not None
            and c.is_encrypted
            and c in self._trusted
            and bool(self.device.gatt_server.subscribers.get(c))
        )

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

    def __init__(self, hci=None, address=None, device_id=None, bonds=None):
        self._hci = hci or os.environ.get(ENV_HCI, "tcp-client:127.0.0.1:9302")
        self._address = address or os.environ.get(ENV_ADDRESS, "F0:00:00:00:00:01")
        self._bonds = bonds or os.environ.get(ENV_BONDS)
        self._device_id = device_id or 0
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
                    self._hci,
                    self._address,
                    self._device_id,
                    self._inbox.put,
                    self._bonds,
                    on_event=self._event,
                )
            )
            window = getattr(self._fob, "pairing", None)
            if window is not None:
                self.ble.window = window
            self._loop.run_until_complete(self.ble.start())
        except Exception as e:  # no air to talk to: the fob runs on serial alone
            self.error = e
            log.warning("simulated BLE unavailable (%s): %s", self._hci, e)
        finally:
            self._started.set()
        if self.error is None:
            self._loop.run_forever()

    def _event(self, kind):
        # From the BLE thread: counted and fed back on the firmware's thread, in poll().
        self._inbox.put(kind)

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
        window = getattr(fob, "pairing", None)  # benches attach a bare frame sink
        if self.ble is not None and window is not None:
            self.ble.window = window  # new bonds only while the worker has it open

    def send(self, frame):
        if not self.up:
            return False
        asyncio.run_coroutine_threadsafe(self.ble.send(bytes(frame)), self._loop)
        return True

    def poll(self):
        fob = self._fob
        while fob is not None:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, str):
                apply_event(self.ble.window, item)
            else:
                fob.on_downlink(item)

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
