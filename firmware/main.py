# Device entry point: board parts, watchdog, the main loop. Copy to the fob's root as main.py.
#
# The button interrupt only records and schedules a wake-up; all work, debouncing included,
# happens in the loop below. The watchdog is fed by the loop alone, so a hung task reboots the
# fob, which then resumes its outbox from flash.
import asyncio
import gc
import time

import machine
import micropython

micropython.alloc_emergency_exception_buf(100)

from firmware.feedback import Feedback  # noqa: E402
from firmware.fob import Fob, Hardware  # noqa: E402
from firmware.serial_link import LazyAdmin, SerialLink  # noqa: E402
from firmware.store import Store  # noqa: E402
from hardware import esp32  # noqa: E402
from hardware.esp32_serial import UsbSerial  # noqa: E402

BOARD_FILE = "/board.txt"  # one line, the profile name, written by `vigil flash`
FLASH_DIR = "/vigil"
LOOP_MS = 10  # main loop period: SOS within 10 ms of the hold threshold
WDT_MS = 8000  # longer than any flash write or BLE stall, short enough to matter
_wake = asyncio.ThreadSafeFlag()


def _scheduled(_):
    _wake.set()


def _irq(_pin):
    # Interrupt context: no allocation, no work. Just ask for the loop to run soon.
    micropython.schedule(_scheduled, 0)


def _board_name():
    try:
        with open(BOARD_FILE) as f:
            return f.read().strip()
    except OSError:
        from hardware.boards import DEFAULT

        return DEFAULT


async def _tick():
    while True:
        await asyncio.sleep_ms(LOOP_MS)
        _wake.set()


def _safe_mode(button):
    # SOS button held at power-on: stay at the REPL (no watchdog, Ctrl-C works) so mpremote
    # and `vigil flash` can reach a fob whose serial port the firmware would otherwise own.
    if not button():
        return False
    time.sleep_ms(1000)
    return bool(button())


async def main():
    parts = esp32.build(_board_name())
    if _safe_mode(parts["button"]):
        print("vigil: safe mode, firmware not started")
        return
    wdt = machine.WDT(timeout=WDT_MS)
    store = Store(FLASH_DIR)
    fb = Feedback(time, vibe=parts["vibe"], buzzer=parts["buzzer"], led=parts["led"])
    serial = SerialLink(UsbSerial())
    links = [serial]
    ble = None
    try:
        from firmware.ble_link import BleLink

        ble = BleLink()
        links.append(ble)
    except ImportError:
        pass  # aioble not installed: serial only
    hw = Hardware(time, parts["button"], parts["accel"], parts["battery"], store, fb, links,
                  _board_name())
    fob = Fob(hw)
    serial.attach(fob, LazyAdmin(fob))
    if ble is not None:
        ble.attach(fob)
        asyncio.create_task(ble.run())
    parts["button"].irq(_irq)
    asyncio.create_task(_tick())
    gc.collect()
    while True:
        await _wake.wait()
        try:
            fob.poll()
        except Exception as e:  # keep raising alarms; the watchdog is for hangs, not bugs
            fob.log("error in poll: %r" % e)
        wdt.feed()


asyncio.run(main())
