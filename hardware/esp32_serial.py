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
        self._buf = bytearray(128)
        self._mv = memoryview(self._buf)
        micropython.kbd_intr(-1)

    def read(self):
        # poll() promises one byte at a time; drain up to a buffer's worth per loop iteration
        # (115200 baud is ~115 bytes per 10 ms loop, so the buffer never falls behind).
        buf = self._buf
        n = 0
        while n < len(buf) and self._poll.poll(0):
            if not self._in.readinto(self._mv[n:], 1):
                break
            n += 1
        return bytes(buf[:n]) if n else None

    def write(self, data):
        self._out.write(data)

    def close(self):
        micropython.kbd_intr(3)  # the REPL is usable again
