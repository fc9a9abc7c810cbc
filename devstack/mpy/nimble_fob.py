# Runs on the MicroPython unix port built with NimBLE (devstack/mpy/nimble.py): the real
# firmware/ble_link.py, aioble and a real PairingWindow on the `time` module. Reads commands
# on stdin ("open", "quit"); prints "feedback NAME" and a status line every 100 ms.
#   micropython nimble_fob.py ROOT AIOBLE_DIR SECRETS_FILE
import sys

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])

import asyncio  # noqa: E402
import select  # noqa: E402
import time  # noqa: E402

from firmware import ble_link  # noqa: E402
from firmware.pairing import PairingWindow  # noqa: E402

ble_link._SECRETS = sys.argv[3]  # not the device's /vigil/ on the host


class Fob:
    # What BleLink.attach() needs from firmware.fob.Fob: its pairing window and on_downlink.
    def __init__(self):
        self.pairing = PairingWindow(time, lambda name: print("feedback", name))

    def on_downlink(self, data):
        print("downlink", bytes(data).hex())


async def control(link, fob):
    poller = select.poll()
    poller.register(sys.stdin, select.POLLIN)
    while True:
        w = fob.pairing
        w.poll(time.ticks_ms())
        for _ in poller.poll(0):
            line = sys.stdin.readline().strip()
            if line == "open":
                w.open(time.ticks_ms())
            elif line == "quit" or not line:
                return
        fields = (w.is_open, w.bonds, w.refused, w.dropped, link.up, link._conn is not None)
        print("status open=%d bonds=%d refused=%d dropped=%d up=%d connected=%d" % fields)  # noqa: UP031
        await asyncio.sleep_ms(100)


async def main():
    link = ble_link.BleLink()
    fob = Fob()
    link.attach(fob)
    asyncio.create_task(link.run())
    print("ready")
    await control(link, fob)


asyncio.run(main())
