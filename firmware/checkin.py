# Check-in (amber alert): the worker starts a visit of so many minutes, is reminded before it is
# due, and checks out; a visit not checked out in time raises CHECKIN_OVERDUE.
#
# The time left is kept on flash, refreshed every heartbeat (save()), so after a reboot the
# check-in is due at most one heartbeat late, never forgotten.
import struct

from protocol import frame_types as ft
from protocol.const import const

_MAX_U16 = const(0xFFFF)  # minutes travel in a u16


class Checkin:
    def __init__(self, config, store, report, raise_frame):
        self._config = config
        self._report = report
        self._raise = raise_frame
        self.due = None  # uptime ms, None when no check-in runs
        self._reminded = False
        raw = store.read("checkin")
        if raw and len(raw) == 4:
            self.due = struct.unpack(">I", raw)[0] * 1000

    def start(self, minutes, up):
        minutes = max(1, min(int(minutes), _MAX_U16))
        if self._raise(ft.CHECKIN_START, minutes, up) is None:
            return False
        self.due = up + minutes * 60000
        self._reminded = False
        self.save(up)
        self._report.play("checkin_started")
        return True

    def stop(self, up):
        if self.due is None:
            return False
        self.due = None
        self._report.remove("checkin")
        self._raise(ft.CHECKIN_STOP, 0, up)
        self._report.play("checkin_stopped")
        return True

    def clear(self):
        # Factory reset: forget the visit without a frame (the key it would be signed with is gone).
        self.due = None
        self._report.remove("checkin")

    def remaining_s(self, up):
        if self.due is None:
            return 0
        return max(0, (self.due - up) // 1000)

    def save(self, up):
        rem = max(0, (self.due - up) // 1000)
        self._report.write("checkin", struct.pack(">I", rem))

    def timers(self, up):
        due = self.due
        if due is None:
            return
        if up >= due:
            self.due = None
            self._report.remove("checkin")
            self._raise(ft.CHECKIN_OVERDUE, 0, up)
            self._report.play("alarm_sent")
        elif not self._reminded and up >= due - self._config["checkin_remind_s"] * 1000:
            self._reminded = True
            self._report.play("checkin_reminder")
