# The simulated fob's BLE side: a GATT peripheral on Google's bumble, linked to other bumble
# devices (the gateway's adapter) through an in-memory LocalLink instead of a radio.
#
# It behaves like the ESP32's NimBLE peripheral: advertises the Vigil service, accepts pairing
# only while in pairing mode (LE Secure Connections, bonding, Just Works: the fob has no
# display), and refuses to notify or accept writes on a link that is not encrypted.
import logging

from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.device import Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import Address
from bumble.host import Host
from bumble.keys import MemoryKeyStore
from bumble.pairing import PairingConfig, PairingDelegate
from bumble.transport.common import AsyncPipeSink

from gateway import ble_profile

log = logging.getLogger("vigil.sim.ble")


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
    def __init__(self, link, address, device_id, on_downlink=None):
        self.device_id = device_id
        self.address = address
        self.name = "%s%06x" % (ble_profile.NAME_PREFIX, device_id)
        self.on_downlink = on_downlink or (lambda frame: None)
        self.pairable = False
        self.downlinks = []
        self.notified = 0
        self.refused_writes = 0
        self.controller = Controller(self.name, link=link, public_address=address)
        self.device = Device(
            name=self.name,
            address=Address(address),
            host=Host(self.controller, AsyncPipeSink(self.controller)),
        )
        self.device.keystore = MemoryKeyStore()
        self.device.pairing_config_factory = lambda connection: PairingConfig(
            sc=True,
            mitm=False,
            bonding=True,
            delegate=_FobPairingDelegate(self),
            # Our static random address is our identity: bonds stay valid across reconnects.
            identity_address_type=PairingConfig.AddressType.RANDOM,
        )
        self.frame_char = Characteristic(
            ble_profile.FRAME_UUID,
            Characteristic.Properties.NOTIFY | Characteristic.Properties.READ,
            Characteristic.Permissions.READ_REQUIRES_ENCRYPTION,
            b"",
        )
        self.downlink_char = Characteristic(
            ble_profile.DOWNLINK_UUID,
            Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            Characteristic.Permissions.WRITE_REQUIRES_ENCRYPTION,
            CharacteristicValue(write=self._on_write),
        )
        self.device.add_service(
            Service(ble_profile.SERVICE_UUID, [self.frame_char, self.downlink_char])
        )
        self.connection = None
        self.device.on("connection", self._on_connection)

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
            advertising_data=bytes(data), auto_restart=True, advertising_interval_min=20.0
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
