# Frames from the monitor, on any link: verified (tag, device id, replay window), then acks are
# acted on here. A COMMAND is only verified: commands reach several parts, so the Fob runs them,
# as it does gestures.
import struct

from firmware.raised import SAY, SUPERSEDED
from protocol import frame_types as ft
from protocol import frames
from protocol.errors import ProtocolError
from protocol.replay import ReplayWindow


class Downlinks:
    def __init__(self, identity, store, outbox, alarms, report):
        self._identity = identity
        self._outbox = outbox
        self._alarms = alarms
        self._report = report
        self.rejected = 0
        self._rx = ReplayWindow(*self._load(store))

    def receive(self, data, keyed, up):
        # Returns the verified frame, or None after counting the rejection. Never raises.
        # keyed: the fob holds a key to check tags with (it is provisioned).
        if not keyed:
            self.rejected += 1
            return None
        idn = self._identity
        try:
            f = frames.decode(data, idn.key, expect=ft.DOWNLINK)
            if f.device_id != idn.device_id:
                raise ProtocolError("frame for device %d" % f.device_id)
            self._rx.accept(f.counter)
        except ProtocolError as e:
            self.rejected += 1
            self._report.emit("downlink_rejected", {"reason": e.reason})
            return None
        if f.ftype != ft.ACK:
            # A replayed ACK_HELP or COMMAND must stay refused after a reboot; a replayed plain
            # ACK names a counter already gone, so ACKs (one a minute) spare the flash.
            self._save()
        if f.ftype != ft.COMMAND:
            self._ack(f, up)
        return f

    def _ack(self, f, up):
        report = self._report
        counter = f.fields[0]
        e = self._outbox.ack(counter)
        t = f.ftype
        if t == ft.ACK_HELP:
            # Only for an alarm of ours still waiting, young enough, and not followed by a
            # newer one (firmware/raised.py). The monitor repeats it after a reboot: played
            # once per alarm per boot, not once per repeat.
            verdict = self._alarms.answer(counter, up)
            if verdict == SAY:
                report.play("help_coming")
            else:
                if verdict == SUPERSEDED:
                    report.log("help for alarm %d: a newer alarm is waiting" % counter)
                report.emit("help_withheld", {"counter": counter, "verdict": verdict})
        elif t == ft.ACK_RESOLVED:
            self._alarms.close(counter, up)
            report.play("resolved")
        elif e is not None and ft.is_alarm(e.ftype):
            report.play("delivered")

    def forget(self):
        # A new key starts a new downlink counter space.
        self._rx = ReplayWindow()
        self._report.remove("rx")

    def _load(self, store):
        raw = store.read("rx")
        if raw and len(raw) == 12:
            h, hi, lo = struct.unpack(">III", raw)
            return h - 1, (hi << 32) | lo
        return -1, 0

    def _save(self):
        # Persisted so a downlink replayed after a reboot (an old ACK_HELP) is still refused.
        h, bm = self._rx.state()
        self._report.write("rx", struct.pack(">III", h + 1, bm >> 32, bm & 0xFFFFFFFF))
