"""The fob's GATT profile, as both the fob and the gateway see it.

One primary service; the fob notifies each signed uplink frame (20 bytes, one notification at
the default MTU) on FRAME and the gateway writes signed downlink frames (acks, ACK_HELP,
commands) to DOWNLINK. Both characteristics require an encrypted, bonded link: an unpaired
phone nearby can neither read alarms nor write to the fob.
"""

SERVICE_UUID = "6b1a0001-7e3c-4f1e-9a55-564947494c00"  # ...56494749 4c = "VIGIL"
FRAME_UUID = "6b1a0002-7e3c-4f1e-9a55-564947494c00"
DOWNLINK_UUID = "6b1a0003-7e3c-4f1e-9a55-564947494c00"
NAME_PREFIX = "Vigil-"  # advertised local name: Vigil-<device id in hex>
PREFERRED_MTU = 64  # frames are 20 bytes; a bigger MTU gains nothing and costs RAM on the fob
