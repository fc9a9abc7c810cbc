"""Fobs on serial lines (USB CDC, UART adapters) with pyserial.

Each port carries one fob and gets its own task: open, read framed bytes as they arrive (the
event loop watches the file descriptor, no polling thread), and when the port vanishes (USB
unplug, fob reset) close it and keep trying to reopen it. Ports are given explicitly or found by
USB vendor/product id; with auto-detection a fob plugged in later is picked up too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable

import serial
import serial.tools.list_ports

from gateway.errors import TransportError
from gateway.transport import FobLink, FrameSink, Transport
from protocol import framing
from protocol.frames import FRAME_LEN

log = logging.getLogger("vigil.gateway.serial")

BAUDRATE = 115200  # the fob's UART setting; USB CDC ignores it
REOPEN_FIRST_S = 0.2  # a fob resetting re-enumerates within a few hundred ms
REOPEN_CAP_S = 5.0  # an unplugged fob is retried this often, forever
RESCAN_S = 2.0  # how often auto-detection looks for newly plugged fobs
WRITE_TIMEOUT_S = 1.0  # a fob that stops reading its UART for this long is treated as gone
READ_CHUNK = 4096

# USB ids of the serial bridges ESP32 fob boards ship with.
DEFAULT_USB_IDS: tuple[tuple[int, int], ...] = (
    (0x303A, 0x1001),  # Espressif native USB-Serial/JTAG (ESP32-S3/C3/C6)
    (0x10C4, 0xEA60),  # Silicon Labs CP210x
    (0x1A86, 0x7523),  # WCH CH340
    (0x1A86, 0x55D4),  # WCH CH9102
    (0x0403, 0x6001),  # FTDI FT232R
)


class SerialLink(FobLink):
    def __init__(self, port: str) -> None:
        super().__init__("serial", port)
        self._fd: int | None = None

    @property
    def connected(self) -> bool:
        return self._fd is not None

    async def send(self, frame: bytes) -> None:
        data = framing.encode(frame)
        deadline = time.monotonic() + WRITE_TIMEOUT_S
        while data:
            fd = self._fd
            if fd is None:
                raise TransportError(self.port, "not connected")
            try:
                n = os.write(fd, data)
                data = data[n:]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TransportError(self.port, "fob is not reading") from None
                await asyncio.sleep(0.005)
            except OSError as e:
                raise TransportError(self.port, f"write failed: {e}") from e


def detect_ports(
    usb_ids: Iterable[tuple[int, int]] = DEFAULT_USB_IDS,
    comports: Callable[[], Iterable[object]] = serial.tools.list_ports.comports,
) -> list[str]:
    """Device paths of serial ports whose USB vendor/product id is a known fob bridge."""
    wanted = set(usb_ids)
    return sorted(
        str(getattr(p, "device", ""))
        for p in comports()
        if (getattr(p, "vid", None), getattr(p, "pid", None)) in wanted
    )


class SerialTransport(Transport):
    def __init__(
        self,
        ports: Iterable[str] = (),
        *,
        auto_detect: bool = False,
        usb_ids: Iterable[tuple[int, int]] = DEFAULT_USB_IDS,
        comports: Callable[[], Iterable[object]] = serial.tools.list_ports.comports,
    ) -> None:
        self._ports = list(ports)
        self._auto = auto_detect
        self._usb_ids = tuple(usb_ids)
        self._comports = comports
        self._links: dict[str, SerialLink] = {}
        self.counters: Counter[str] = Counter()

    def links(self) -> list[FobLink]:
        return list(self._links.values())

    async def run(self, sink: FrameSink) -> None:
        async with asyncio.TaskGroup() as tg:
            for port in self._ports:
                self._links[port] = SerialLink(port)
                tg.create_task(self._port_loop(self._links[port], sink))
            while self._auto:
                for port in detect_ports(self._usb_ids, self._comports):
                    if port not in self._links:
                        log.info("found a fob bridge on %s", port)
                        self._links[port] = SerialLink(port)
                        tg.create_task(self._port_loop(self._links[port], sink))
                await asyncio.sleep(RESCAN_S)

    async def _port_loop(self, link: SerialLink, sink: FrameSink) -> None:
        delay = REOPEN_FIRST_S
        while True:
            try:
                ser = serial.Serial(link.port, BAUDRATE, timeout=0, exclusive=True)
            except (serial.SerialException, OSError) as e:
                self.counters["open_failed"] += 1
                log.debug("cannot open %s (%s); retry in %.1f s", link.port, e, delay)
                await asyncio.sleep(delay)
                delay = min(REOPEN_CAP_S, delay * 2)
                continue
            delay = REOPEN_FIRST_S
            try:
                await self._serve(ser, link, sink)
            finally:
                link._fd = None
                with contextlib.suppress(Exception):
                    ser.close()
                sink.link_down(link)
            await asyncio.sleep(REOPEN_FIRST_S)

    async def _serve(self, ser: serial.Serial, link: SerialLink, sink: FrameSink) -> None:
        loop = asyncio.get_running_loop()
        fd = ser.fileno()
        deframer = framing.Deframer()
        gone: asyncio.Future[str] = loop.create_future()

        def readable() -> None:
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError as e:  # EIO: the other end of the line went away
                if not gone.done():
                    gone.set_result(str(e))
                return
            if not data:
                if not gone.done():
                    gone.set_result("end of file")
                return
            errors = deframer.errors
            for payload in deframer.feed(data):
                if len(payload) == FRAME_LEN:
                    sink.frame_received(payload, link)
                else:
                    # Provisioning replies and logs share the line; they are not for the monitor.
                    self.counters["non_frame_payload"] += 1
            if deframer.errors != errors:
                self.counters["framing_errors"] += deframer.errors - errors
                log.debug("%s: %d framing errors so far", link.port, deframer.errors)

        link._fd = fd
        sink.link_up(link)
        loop.add_reader(fd, readable)
        try:
            reason = await gone
            log.warning("serial port %s lost: %s", link.port, reason)
        finally:
            loop.remove_reader(fd)
