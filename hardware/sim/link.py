# An in-memory radio/serial link for virtual-time tests, with a receiver that behaves like the
# gateway + monitor pair: verifies each uplink, dedups by counter and answers with signed ACKs
# that arrive on the fob's next poll (unless the link drops first).
from protocol import frame_types as ft
from protocol import frames


class SimLink:
    kind = "sim"

    def __init__(self, clock):
        self._clock = clock
        self.up = True
        self.sent = []  # (elapsed ms, frame bytes): everything that left the fob
        self._fob = None
        self._pending = []
        self.acks = True  # False: a monitor that stores nothing and answers nothing
        self.help = False  # answer alarms with ACK_HELP, as an operator would
        self.key = None
        self.device_id = None
        self._down = 100000  # the monitor's downlink counter; tests inject below it
        self.accepted = {}  # counter -> (type, first fields)

    def attach(self, fob, admin=None):
        self._fob = fob
        self._pending = []  # acks in flight are lost with the fob's RAM

    def send(self, frame):
        if not self.up:
            return False
        data = bytes(frame)
        self.sent.append((self._clock.elapsed, data))
        if self.key is not None:
            f = frames.decode(data, self.key, expect=ft.UPLINK)
            if f.counter not in self.accepted:
                self.accepted[f.counter] = (f.ftype, f.fields)
            if self.acks:
                kind = ft.ACK_HELP if (self.help and ft.is_alarm(f.ftype)) else ft.ACK
                self._down += 1
                ack = frames.encode(kind, self.device_id, self._down, (f.counter,), self.key)
                self._pending.append(ack)
        return True

    def downlink(self, ftype, fields):
        # The monitor sends the fob something (ACK_HELP, COMMAND...) under its own counter.
        self._down += 1
        frame = frames.encode(ftype, self.device_id, self._down, tuple(fields), self.key)
        self._pending.append(frame)
        return frame

    def poll(self):
        if not self._pending or not self.up or self._fob is None:
            return
        pending = self._pending
        self._pending = []
        for ack in pending:
            self._fob.on_downlink(ack)
