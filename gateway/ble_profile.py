"""The fob's GATT profile as the gateway sees it.

The UUIDs are the firmware's (`firmware/ble_uuids.py`: the device side is the authority, and
changing them unpairs every fob). One primary service; the fob notifies each signed uplink
frame (20 bytes, one notification at the default MTU) on FRAME and the gateway writes signed
downlink frames (acks, ACK_HELP, commands) to DOWNLINK. Both require an encrypted, bonded link.
"""

from firmware import ble_uuids

SERVICE_UUID: str = ble_uuids.SERVICE
FRAME_UUID: str = ble_uuids.FRAMES
DOWNLINK_UUID: str = ble_uuids.DOWNLINK
NAME_PREFIX: str = ble_uuids.ADV_NAME  # the simulated fob appends its device id
PREFERRED_MTU = 64  # frames are 20 bytes; a bigger MTU gains nothing and costs RAM on the fob
