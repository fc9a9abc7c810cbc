# The USB serial port (the REPL's UART) as the fob's serial link port: non-blocking read(),
# write(). Device only. Ctrl-C is disabled while the link runs: COBS frames contain 0x03.
import select
import sys

import micropython


class UsbSerial:
    def __init__(self):
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._buf = bytearray(64)
        micropython.kbd_intr(-1)

    def read(self):
        if not self._poll.poll(0):
            return None
        n = self._in.readinto(self._buf, 1)  # one byte at a time is all poll() promises
        return bytes(self._buf[:n]) if n else None

    def write(self, data):
        self._out.write(data)

    def close(self):
        micropython.kbd_intr(3)  # the REPL is usable again
