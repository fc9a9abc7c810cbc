"""A bleak backend on Google's bumble host stack.

bleak chooses its OS backend (BlueZ, CoreBluetooth, WinRT) unless given `backend=`; these
classes are that backend for a bumble `Device`, so the gateway's bleak code runs unchanged over
an emulated controller (bumble's in-memory `LocalLink` in tests and `make run`) or any HCI
dongle bumble can drive (`usb:0`, `serial:/dev/ttyUSB0`) where no OS Bluetooth stack is
wanted. Pass the bumble device through bleak's keyword arguments:

    BleakScanner(backend=BumbleScanner, bumble_device=device)
    BleakClient(address, backend=BumbleClient, bumble_device=device, pair=True)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bumble.core import AdvertisingData, PhysicalTransport
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt import Characteristic
from bumble.gatt_client import CharacteristicProxy
from bumble.hci import Address

from gateway.ble_profile import PREFERRED_MTU

log = logging.getLogger("vigil.gateway.bumble")

DEFAULT_ATT_MTU = 23  # before the exchange, per the Core spec
_UUID_LISTS = (
    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
)
_PROPERTY_NAMES = {
    Characteristic.Properties.BROADCAST: "broadcast",
    Characteristic.Properties.READ: "read",
    Characteristic.Properties.WRITE_WITHOUT_RESPONSE: "write-without-response",
    Characteristic.Properties.WRITE: "write",
    Characteristic.Properties.NOTIFY: "notify",
    Characteristic.Properties.INDICATE: "indicate",
    Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES: "authenticated-signed-writes",
    Characteristic.Properties.EXTENDED_PROPERTIES: "extended-properties",
}


def uuid_str(uuid: object) -> str:
    return str(uuid).lower()


def address_str(address: Address) -> str:
    return str(address.to_string(False))


class BumbleScanner(BaseBleakScanner):
    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        bumble_device: Device,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._device = bumble_device
        self._active = scanning_mode != "passive"

    async def start(self) -> None:
        self.seen_devices = {}
        self._device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        await self._device.start_scanning(active=self._active, filter_duplicates=False)

    async def stop(self) -> None:
        self._device.remove_listener(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        await self._device.stop_scanning()

    def _on_advertisement(self, adv: Advertisement) -> None:
        data = adv.data
        uuids: list[str] = []
        for kind in _UUID_LISTS:
            found = data.get(kind)
            if isinstance(found, list):
                uuids.extend(uuid_str(u) for u in found)
        if not self.is_allowed_uuid(uuids):
            return
        raw_name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(
            AdvertisingData.SHORTENED_LOCAL_NAME
        )
        name = raw_name.decode() if isinstance(raw_name, bytes) else raw_name
        advertisement = AdvertisementData(
            local_name=name,
            manufacturer_data={},
            service_data={},
            service_uuids=uuids,
            tx_power=None,
            rssi=adv.rssi,
            platform_data=(adv,),
        )
        address = address_str(adv.address)
        device = self.create_or_update_device(address, address, name, adv.address, advertisement)
        self.call_detection_callbacks(device, advertisement)


class BumbleClient(BaseBleakClient):
    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        bumble_device: Device,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._device = bumble_device
        self._peer_address: Address | str = (
            address_or_ble_device.details
            if isinstance(address_or_ble_device, BLEDevice)
            and isinstance(address_or_ble_device.details, Address)
            else self.address
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._mtu = DEFAULT_ATT_MTU
        self._proxies: dict[int, CharacteristicProxy[bytes]] = {}

    @property
    def name(self) -> str:
        return self.address

    @property
    def mtu_size(self) -> int:
        return self._mtu

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        try:
            connection = await self._device.connect(
                self._peer_address, transport=PhysicalTransport.LE, timeout=self._timeout
            )
        except Exception as e:  # bumble raises its own hierarchy; bleak callers expect BleakError
            raise BleakError(f"connect to {self.address} failed: {e}") from e
        self._connection = connection
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            if pair:
                await self.pair()
            self._peer = Peer(connection)
            self._mtu = await self._peer.request_mtu(PREFERRED_MTU)
            self.services = await self._discover(self._peer)
        except Exception as e:
            await self.disconnect()
            raise BleakError(f"setting up {self.address} failed: {e}") from e

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for service in await peer.discover_services():
            bs = BleakGATTService(service, service.handle, uuid_str(service.uuid))
            collection.add_service(bs)
            for char in await peer.discover_characteristics(service=service):
                props = [n for flag, n in _PROPERTY_NAMES.items() if char.properties & flag]
                bc = BleakGATTCharacteristic(
                    char,
                    char.handle,
                    uuid_str(char.uuid),
                    props,  # type: ignore[arg-type]
                    lambda: self._mtu - 3,
                    bs,
                )
                collection.add_characteristic(bc)
                self._proxies[char.handle] = char
                for desc in await peer.discover_descriptors(characteristic=char):
                    collection.add_descriptor(
                        BleakGATTDescriptor(desc, desc.handle, uuid_str(desc.type), bc)
                    )
        return collection

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._peer = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is not None:
            try:
                await connection.disconnect()
            except Exception as e:  # already gone: nothing left to close
                log.debug("disconnect %s: %s", self.address, e)
            self._connection = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Encrypt with the bonded keys if we have them, otherwise pair (and bond)."""
        connection = self._require()
        keystore = self._device.keystore
        bonded = keystore is not None and await keystore.get(str(connection.peer_address))
        try:
            if bonded:
                await connection.encrypt()
            else:
                await connection.pair()
        except Exception as e:
            raise BleakError(f"pairing with {self.address} failed: {e}") from e
        except asyncio.CancelledError as e:
            # bumble cancels a pairing whose link dropped: the fob hung up on it (a Vigil fob
            # does that to pairing outside its pairing window). Our own cancellation re-raises.
            if self._connection is connection:
                raise
            raise BleakError(f"pairing with {self.address} failed: the fob disconnected") from e

    async def unpair(self) -> None:
        if self._device.keystore is not None and self._connection is not None:
            await self._device.keystore.delete(str(self._connection.peer_address))

    def _require(self) -> Connection:
        if self._connection is None:
            raise BleakError(f"{self.address} is not connected")
        return self._connection

    def _proxy(self, characteristic: BleakGATTCharacteristic) -> CharacteristicProxy[bytes]:
        self._require()
        return self._proxies[characteristic.handle]

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._proxy(characteristic).read_value())

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, **kwargs: Any
    ) -> bytearray:
        assert self._peer is not None
        return bytearray(await self._peer.read_value(descriptor.handle))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        try:
            await self._proxy(characteristic).write_value(bytes(data), with_response=response)
        except BleakError:
            raise
        except Exception as e:
            raise BleakError(f"write to {characteristic.uuid} failed: {e}") from e

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        assert self._peer is not None
        await self._peer.write_value(descriptor.handle, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        try:
            await self._proxy(characteristic).subscribe(lambda value: callback(bytearray(value)))
        except Exception as e:
            raise BleakError(f"subscribe to {characteristic.uuid} failed: {e}") from e

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        await self._proxy(characteristic).unsubscribe()


def _configure_central(device: Device, keystore: object | None) -> Device:
    from bumble.keys import KeyStore, MemoryKeyStore
    from bumble.pairing import PairingConfig, PairingDelegate

    device.keystore = keystore if isinstance(keystore, KeyStore) else MemoryKeyStore()
    device.pairing_config_factory = lambda connection: PairingConfig(
        sc=True,
        mitm=False,
        bonding=True,
        delegate=PairingDelegate(io_capability=PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT),
        identity_address_type=PairingConfig.AddressType.RANDOM,
    )
    return device


def central_on_link(link: object, address: str, keystore: object | None = None) -> Device:
    """A bumble central (the gateway's 'adapter') on an emulated controller joined to `link`.

    LE Secure Connections with bonding; our static random address is our identity so bonds
    survive reconnects. Bonds are kept in `keystore` (memory by default).
    """
    from bumble.controller import Controller
    from bumble.host import Host
    from bumble.transport.common import AsyncPipeSink

    controller = Controller(f"gateway-{address}", link=link, public_address=address)  # type: ignore[arg-type]
    device = Device(
        name="vigil-gateway",
        address=Address(address),
        host=Host(controller, AsyncPipeSink(controller)),
    )
    return _configure_central(device, keystore)


async def central_over_hci(spec: str, address: str, bonds: str | None) -> Device:
    """A bumble central driving a controller over an HCI transport: a USB dongle (`usb:0`),
    a UART (`serial:/dev/ttyUSB0,1000000`) or the simulated air (`tcp-client:127.0.0.1:9301`).
    Bonds persist in the JSON file `bonds` so a paired fob reconnects after a restart."""
    from bumble.keys import JsonKeyStore
    from bumble.transport import open_transport

    transport = await open_transport(spec)
    device = Device.with_hci("vigil-gateway", Address(address), transport.source, transport.sink)
    _configure_central(device, JsonKeyStore(address, bonds) if bonds else None)
    await device.power_on()
    return device
