# The UART/USB link: signed frames and provisioning messages, each in the protocol's serial
# framing (COBS + CRC, 0x00 delimited), so noise or a half-written frame costs one frame only.
#
# port: .write(bytes) and .read() -> bytes or None without blocking (hardware/ provides one for
# the ESP32's USB serial and one on a pseudo-terminal for the host).
from protocol import frame_types as ft
from protocol import framing

_FLUSH = b"\x00"  # leading delimiter: ends any half frame a reset or noise left on the line


class SerialLink:
    kind = "serial"

    def __init__(self, port):
        self.port = port
        self.up = True  # a cable cannot tell us it is unplugged; the outbox retries until ACK
        self._deframer = framing.Deframer()
        self._fob = None
        self._admin = None

    @property
    def errors(self):
        return self._deframer.errors

    def attach(self, fob, admin=None):
        # After every (simulated) reboot the new fob attaches; provisioning only on this link.
        self._fob = fob
        self._admin = admin

    def send(self, frame):
        if not self.up:
            return False
        self.port.write(_FLUSH + framing.encode(frame))
        return True

    def poll(self):
        data = self.port.read()
        if not data:
            return
        if not self.up:
            return  # unplugged: bytes on the wire go nowhere
        for payload in self._deframer.feed(data):
            self._dispatch(payload)

    def _dispatch(self, payload):
        if not payload:
            return
        if ft.direction(payload[0] & 0x1F) == ft.PROVISIONING and payload[0] >> 5 == ft.VERSION:
            if self._admin is not None:
                reply = self._admin.handle(payload)
                if reply is not None:
                    self.port.write(_FLUSH + framing.encode(reply))
            return
        if self._fob is not None:
            self._fob.on_downlink(payload)

    def log(self, text):
        # Human-readable notes for `vigil fob logs` and for an engineer at the serial console.
        if self.up:
            from protocol import provisioning as pv

            msg = pv.encode(ft.PROV_LOG, {pv.T_MESSAGE: text[: pv.MAX_VALUE]})
            self.port.write(_FLUSH + framing.encode(msg))


class LazyAdmin:
    # Provisioning is rare; its code (several KiB of heap) loads with the first message.
    def __init__(self, fob):
        self._fob = fob
        self._admin = None

    def handle(self, payload):
        if self._admin is None:
            from firmware.admin import Admin

            self._admin = Admin(self._fob)
        return self._admin.handle(payload)
