# The fob's UART as a real pseudo-terminal: a gateway opens the slave end with pyserial exactly
# as it would /dev/ttyUSB0. CPython only (the device uses hardware/esp32_serial.py).
import os
import tty


class PtyUart:
    def __init__(self, link_path=None):
        master, slave = os.openpty()
        tty.setraw(slave)  # a UART carries bytes: no echo, no line editing, no signals
        os.set_blocking(master, False)
        self._master = master
        self._slave = slave  # held open so the master never sees EIO between gateway sessions
        self.path = os.ttyname(slave)
        self.link_path = link_path
        self.dropped = 0  # bytes nobody drained; frames are retried from the outbox anyway
        if link_path:
            try:
                os.unlink(link_path)
            except FileNotFoundError:
                pass
            os.symlink(self.path, link_path)

    def write(self, data):
        view = memoryview(bytes(data))
        while view:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                self.dropped += len(view)
                return
            view = view[n:]

    def read(self):
        try:
            return os.read(self._master, 4096)
        except (BlockingIOError, OSError):
            return None

    def close(self):
        if self.link_path:
            try:
                os.unlink(self.link_path)
            except FileNotFoundError:
                pass
        os.close(self._master)
        os.close(self._slave)
