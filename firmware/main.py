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

from firmware.serial_link import SerialLink  # noqa: E402
from firmware.store import Store  # noqa: E402
from firmware.wiring import build_fob  # noqa: E402
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
    board = _board_name()
    parts = esp32.build(board)
    if _safe_mode(parts["button"]):
        print("vigil: safe mode, firmware not started")
        return
    wdt = machine.WDT(timeout=WDT_MS)
    store = Store(FLASH_DIR)
    links = [SerialLink(UsbSerial())]
    ble = None
    try:
        from firmware.ble_link import BleLink

        ble = BleLink()
        links.append(ble)
    except ImportError:
        pass  # aioble not installed: serial only
    fob, _ = build_fob(time, parts, store, links, board)
    if ble is not None:
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
