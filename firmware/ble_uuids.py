# The Vigil GATT service, shared by the fob (firmware/ble_link.py), the simulated fob
# (hardware/sim/ble.py) and the gateway's bleak client. Changing these unpairs every fob.
SERVICE = "7a6e0001-51c2-4b53-9b1e-5a1f0c1e7a11"
# Notify: one signed 20-byte uplink frame per notification (fits the default 23-byte MTU).
FRAMES = "7a6e0002-51c2-4b53-9b1e-5a1f0c1e7a11"
# Write (encrypted link only): one signed 20-byte downlink frame (ACK, ACK_HELP, COMMAND).
DOWNLINK = "7a6e0003-51c2-4b53-9b1e-5a1f0c1e7a11"
ADV_NAME = "Vigil"
