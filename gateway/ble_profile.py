"""The fob's GATT profile as the gateway sees it.

The values are the firmware's (`firmware/ble_uuids.py`, the device side is the authority:
changing them unpairs every fob). One primary service; the fob notifies each signed uplink
frame (20 bytes, one notification at the default MTU) on FRAME and the gateway writes signed
downlink frames (acks, ACK_HELP, commands) to DOWNLINK. Both require an encrypted, bonded link.
"""

SERVICE_UUID = "7a6e0001-51c2-4b53-9b1e-5a1f0c1e7a11"
FRAME_UUID = "7a6e0002-51c2-4b53-9b1e-5a1f0c1e7a11"
DOWNLINK_UUID = "7a6e0003-51c2-4b53-9b1e-5a1f0c1e7a11"
NAME_PREFIX = "Vigil"  # firmware's ADV_NAME; the simulated fob appends its device id
PREFERRED_MTU = 64  # frames are 20 bytes; a bigger MTU gains nothing and costs RAM on the fob
