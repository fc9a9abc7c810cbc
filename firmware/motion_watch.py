# Watching the wearer through the accelerometer: a fall (held on the fob through its cancel
# window, the pre-alarm) and lying still too long (no-motion, warned before it is raised).
#
# Frames go out through raise_frame(ftype, detail, up, held=False, cancels=None), which returns
# the counter or None; the held FALL is released or discarded through the outbox itself.
from firmware.fall_detector import FALL, FallDetector
from protocol import frame_types as ft
from protocol.const import const

RATE_HZ = const(50)  # accelerometer samples per second: the fall detector's design rate
_SAMPLE_MS = const(20)
_MAX_CATCHUP = const(10)  # samples replayed after a slow poll before we resynchronise
_MOTION_MG = const(120)  # per-sample change that counts as the wearer moving (noise is ~10 mg)
_SENSOR_RETRY_MS = const(1000)
# _state: the no-motion alarm is raised once per stillness, then waits for movement.
_ARMED = const(0)
_WARNED = const(1)
_RAISED = const(2)


class MotionWatch:
    def __init__(self, clock, accel, config, outbox, alarms, report, raise_frame, now):
        self._clock = clock
        self._accel = accel
        self._config = config
        self._outbox = outbox
        self._alarms = alarms
        self._report = report
        self._raise = raise_frame
        self.detector = FallDetector(RATE_HZ)
        self.sensor_ok = True
        self._next_sample = now
        self._sensor_retry = now
        self._prev = None
        self._still_since = 0  # uptime ms of the last movement
        self._state = _ARMED
        self.prealarm = None  # counter of the held FALL during its cancel window
        self._prealarm_until = 0

    def sample(self, now, up):
        clock = self._clock
        if not self.sensor_ok:
            if clock.ticks_diff(now, self._sensor_retry) < 0:
                return
            self._sensor_retry = clock.ticks_add(now, _SENSOR_RETRY_MS)
        n = 0
        while clock.ticks_diff(now, self._next_sample) >= 0:
            if n >= _MAX_CATCHUP:
                self._next_sample = now  # a long stall: skip, do not replay a backlog
                break
            n += 1
            self._next_sample = clock.ticks_add(self._next_sample, _SAMPLE_MS)
            try:
                x, y, z = self._accel.read()
            except OSError:
                if self.sensor_ok:
                    self.sensor_ok = False
                    self._report.log("accelerometer failed: fall and no-motion detection off")
                self._sensor_retry = clock.ticks_add(now, _SENSOR_RETRY_MS)
                return
            if not self.sensor_ok:
                self.sensor_ok = True
                self._report.log("accelerometer back")
                self._next_sample = now
            self._motion(x, y, z, up)
            if self.detector.step(x, y, z) == FALL:
                self._fall_detected(up)

    def _motion(self, x, y, z, up):
        p = self._prev
        self._prev = (x, y, z)
        if p is None:
            return
        if abs(x - p[0]) + abs(y - p[1]) + abs(z - p[2]) > _MOTION_MG:
            self.moved(up)

    def moved(self, up):
        # Movement, a press or a new no-motion setting: the stillness starts again.
        self._still_since = up
        self._state = _ARMED

    def pressed(self, up):
        # Any press is movement, and cancels a fall still in its pre-alarm.
        self.moved(up)
        if self.prealarm is not None:
            self._cancel_fall(up)

    def _fall_detected(self, up):
        if self.prealarm is not None:
            return
        peak = min(self.detector.peak_mg // 100, 255)  # detail: impact peak in 0.1 g
        c = self._raise(ft.FALL, peak, up, held=True)
        if c is not None:
            self.prealarm = c
            self._prealarm_until = up + self._config["fall_cancel_s"] * 1000
            self._report.play("prealarm")

    def _cancel_fall(self, up):
        c = self.prealarm
        self.prealarm = None
        self._outbox.discard(c)
        # Logged as soon as the cancel is durable (the entry is gone from flash), before the
        # raised table's own write: a power cut between the two must not leave a log that says
        # the fall was neither cancelled nor sent.
        self._report.emit("cancelled", {"type": "fall", "counter": c})
        self._alarms.close(c, up)
        # The fall never leaves the fob; the cancel does, as false-alarm telemetry.
        self._raise(ft.FALL_CANCELLED, None, up, cancels=c)
        self._report.play("cancelled")

    def timers(self, up):
        cfg = self._config
        if self.prealarm is not None and up >= self._prealarm_until:
            c = self.prealarm
            self.prealarm = None
            self._outbox.release(c)
            self._report.emit("released", {"type": "fall", "counter": c})
            self._report.play("alarm_sent")
        nm = cfg["no_motion_s"] * 1000
        if nm and self.sensor_ok and self._state < _RAISED:
            still = up - self._still_since
            warn = nm - cfg["no_motion_warn_s"] * 1000
            if still >= nm:
                self._state = _RAISED
                self._raise(ft.NO_MOTION, min(still // 60000, 255), up)
                self._report.play("alarm_sent")
            elif still >= warn and self._state == _ARMED:
                self._state = _WARNED
                self._report.play("no_motion_warning")
