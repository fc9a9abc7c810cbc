# The fob: gestures, motion, timers and the outbox, advanced by poll() from the main loop.
#
# Every piece of hardware is passed in (see Hardware below), so the same object runs on the
# ESP32 and, in virtual time, on the simulated board under CPython and MicroPython. poll() never
# blocks and never sleeps: the caller decides how often to run it (10-20 ms on the device).
import struct

from firmware import gestures as g
from firmware.config import Config
from firmware.fall_detector import FALL as FALL_EVENT
from firmware.fall_detector import FallDetector
from firmware.identity import Identity
from firmware.outbox import Outbox
from firmware.pairing import PairingWindow
from firmware.raised import SAY, SUPERSEDED, Raised
from protocol import frame_types as ft
from protocol import frames
from protocol.const import const
from protocol.counter import CounterStore
from protocol.errors import ProtocolError
from protocol.replay import ReplayWindow

RATE_HZ = const(50)  # accelerometer samples per second: the fall detector's design rate
_SAMPLE_MS = const(20)
_MAX_CATCHUP = const(10)  # samples replayed after a slow poll before we resynchronise
_MOTION_MG = const(120)  # per-sample change that counts as the wearer moving (noise is ~10 mg)
_BATTERY_EVERY_MS = const(5000)  # the ADC is slow and the level changes slowly
_BATTERY_REARM = const(3)  # percent above a threshold before it can alert again (charging)
_SENSOR_RETRY_MS = const(1000)
_MAX_U16 = const(0xFFFF)


def frame_hex(frame):
    return "".join("%02x" % b for b in frame)  # MicroPython's bytes has no .hex() everywhere


class Hardware:
    # The parts a fob needs. clock: ticks_ms/ticks_diff/ticks_add (the `time` module will do);
    # button: callable -> level (truthy = pressed); accel: .read() -> (x, y, z) milli-g, raises
    # OSError on a failed sensor; battery: callable -> percent; store: firmware.store.Store;
    # feedback: firmware.feedback.Feedback; links: objects with .up and .send(frame) -> bool.
    def __init__(self, clock, button, accel, battery, store, feedback, links=(), board="sim"):
        self.clock = clock
        self.button = button
        self.accel = accel
        self.battery = battery
        self.store = store
        self.feedback = feedback
        self.links = list(links)
        self.board = board


class Fob:
    def __init__(self, hw, trace=None):
        self.hw = hw
        self._clock = clock = hw.clock
        self._trace = trace  # observer: trace(event_name, dict); None on the device
        store = hw.store
        self.config = Config(store)
        self.identity = Identity(store)
        self.counters = CounterStore(store.path("counter"))
        self.outbox = Outbox(store, clock)
        self.alarms = Raised(store)  # what "help is coming" may answer
        self._alarms_dirty = False
        self.gestures = g.Gestures(hw.button, clock, self.config["sos_hold_ms"])
        # Read by the BLE link (attach() gives it this Fob): new bonds only while open.
        self.pairing = PairingWindow(clock, self._feedback)
        self.detector = FallDetector(RATE_HZ)
        now = clock.ticks_ms()
        self._last = now
        self.uptime_ms = 0
        self._encoder = None
        self._rx = ReplayWindow(*self._load_rx())
        self.downlink_rejected = 0
        self.sensor_ok = True
        self._next_sample = now
        self._sensor_retry = now
        self._prev = None
        self._still_since = 0  # uptime ms of the last movement
        self._no_motion_state = 0  # 0 armed, 1 warned, 2 alarm raised (until movement)
        self._prealarm = None  # counter of the held FALL during its cancel window
        self._prealarm_until = 0
        self._sos = None  # (counter, uptime ms) of the last SOS, for the cancel gesture
        self._checkin_due = None  # uptime ms
        self._checkin_reminded = False
        self._next_hb = 0
        self._booted = True
        self._next_battery = 0
        self.battery_pct = 100
        self._low_fired = []
        self._links_up = False
        self.log_lines = []
        self._load_checkin()
        self._rekey()
        self._emit("boot", {"outbox": self.outbox.depth(), "provisioned": self.provisioned})

    # -- identity -------------------------------------------------------------------------
    @property
    def provisioned(self):
        return self.identity.provisioned

    def _rekey(self):
        idn = self.identity
        self._encoder = frames.Encoder(idn.device_id, idn.key) if idn.provisioned else None
        self.gestures.hold_ms = self.config["sos_hold_ms"]

    def reprovisioned(self, new_identity):
        # Called by the provisioning service after it changed identity or config. A new key
        # starts a new downlink counter space; the same key keeps its window, or an old
        # ACK_HELP could be replayed after a forced re-provisioning.
        self._rekey()
        if new_identity:
            self._rx = ReplayWindow()
            self._remove("rx")
            self.alarms.wipe()  # another identity's counters: its ACK_HELPs are not ours

    def clear_checkin(self):
        # Factory reset: forget the visit without a frame (the key it would be signed with is gone).
        self._checkin_due = None
        self._remove("checkin")

    # -- the main loop's one call -----------------------------------------------------------
    def poll(self):
        clock = self._clock
        now = clock.ticks_ms()
        self.uptime_ms += clock.ticks_diff(now, self._last)
        self._last = now
        up = self.uptime_ms

        for link in self.hw.links:
            link.poll()
        ev = self.gestures.poll(now)
        if ev != g.NONE:
            self._on_gesture(ev, up)
        self.pairing.poll(now)
        self._sample(now, up)
        self._timers(now, up)
        self._flush(now, up)
        if self._alarms_dirty:
            # Saved after the flush, so a new alarm goes out before this extra flash write.
            self._alarms_dirty = False
            self.alarms.save(up)
        self.hw.feedback.poll(now)

    # -- gestures ---------------------------------------------------------------------------
    def _on_gesture(self, ev, up):
        if ev == g.DOWN:
            self._moved(up)
            if self._prealarm is not None:
                self._cancel_fall(up)
        elif ev == g.HOLD:
            self.raise_sos(up)
        elif ev == g.TAP3 or ev == g.TAP5:
            sos = self._sos
            if sos is not None and up - sos[1] <= self.config["sos_cancel_s"] * 1000:
                # Three or more taps cancel a fresh SOS, as before pairing had a gesture: a
                # worker hammering the button to cancel is not asking to pair.
                self._sos = None
                self._queue(ft.SOS_CANCEL, None, up, cancels=sos[0])
                self.alarms.close(sos[0], up)
                self._feedback("cancelled")
            elif ev == g.TAP5:
                self.pairing.open(self._clock.ticks_ms())
        elif ev == g.TAP2:
            if self._checkin_due is None:
                self.start_checkin(self.config["checkin_min"], up)
            else:
                self.stop_checkin(up)
        elif ev == g.TAP1:
            self._feedback("ok")

    def raise_sos(self, up=None):
        up = self.uptime_ms if up is None else up
        c = self._queue(ft.SOS, 0, up)
        if c is not None:
            self._sos = (c, up)
            self._feedback("sos_raised")

    # -- motion: fall and no-motion -----------------------------------------------------------
    def _sample(self, now, up):
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
                x, y, z = self.hw.accel.read()
            except OSError:
                if self.sensor_ok:
                    self.sensor_ok = False
                    self.log("accelerometer failed: fall and no-motion detection off")
                self._sensor_retry = clock.ticks_add(now, _SENSOR_RETRY_MS)
                return
            if not self.sensor_ok:
                self.sensor_ok = True
                self.log("accelerometer back")
                self._next_sample = now
            self._motion(x, y, z, up)
            if self.detector.step(x, y, z) == FALL_EVENT:
                self._fall_detected(up)

    def _motion(self, x, y, z, up):
        p = self._prev
        self._prev = (x, y, z)
        if p is None:
            return
        if abs(x - p[0]) + abs(y - p[1]) + abs(z - p[2]) > _MOTION_MG:
            self._moved(up)

    def _moved(self, up):
        self._still_since = up
        self._no_motion_state = 0

    def _fall_detected(self, up):
        if self._prealarm is not None:
            return
        peak = min(self.detector.peak_mg // 100, 255)  # detail: impact peak in 0.1 g
        c = self._queue(ft.FALL, peak, up, held=True)
        if c is not None:
            self._prealarm = c
            self._prealarm_until = up + self.config["fall_cancel_s"] * 1000
            self._feedback("prealarm")

    def _cancel_fall(self, up):
        c = self._prealarm
        self._prealarm = None
        self.outbox.discard(c)
        self.alarms.close(c, up)
        self._emit("cancelled", {"type": "fall", "counter": c})
        # The fall never leaves the fob; the cancel does, as false-alarm telemetry.
        self._queue(ft.FALL_CANCELLED, None, up, cancels=c)
        self._feedback("cancelled")

    # -- timers -------------------------------------------------------------------------------
    def _timers(self, now, up):
        cfg = self.config
        if self._prealarm is not None and up >= self._prealarm_until:
            c = self._prealarm
            self._prealarm = None
            self.outbox.release(c)
            self._emit("released", {"type": "fall", "counter": c})
            self._feedback("alarm_sent")
        nm = cfg["no_motion_s"] * 1000
        if nm and self.sensor_ok and self._no_motion_state < 2:
            still = up - self._still_since
            warn = nm - cfg["no_motion_warn_s"] * 1000
            if still >= nm:
                self._no_motion_state = 2
                self._queue(ft.NO_MOTION, min(still // 60000, 255), up)
                self._feedback("alarm_sent")
            elif still >= warn and self._no_motion_state == 0:
                self._no_motion_state = 1
                self._feedback("no_motion_warning")
        due = self._checkin_due
        if due is not None:
            if up >= due:
                self._checkin_due = None
                self._remove("checkin")
                self._queue(ft.CHECKIN_OVERDUE, 0, up)
                self._feedback("alarm_sent")
            elif not self._checkin_reminded and up >= due - cfg["checkin_remind_s"] * 1000:
                self._checkin_reminded = True
                self._feedback("checkin_reminder")
        if up >= self._next_battery:
            self._next_battery = up + _BATTERY_EVERY_MS
            self._check_battery(up)
        if up >= self._next_hb:
            self._next_hb = up + cfg["heartbeat_s"] * 1000
            self._heartbeat(up)

    def _check_battery(self, up):
        pct = max(0, min(int(self.hw.battery()), 100))
        self.battery_pct = pct
        fired = self._low_fired
        for t in list(fired):
            if pct > t + _BATTERY_REARM:
                fired.remove(t)
        for t in sorted(self.config["battery_low"]):
            if pct <= t:
                if t not in fired:
                    # One alert for the lowest threshold crossed; the higher ones are implied.
                    for t2 in self.config["battery_low"]:
                        if t2 >= t and t2 not in fired:
                            fired.append(t2)
                    self._queue(ft.LOW_BATTERY, t, up)
                    self._feedback("low_battery")
                break

    def _heartbeat(self, up):
        flags = 0
        if not self.sensor_ok:
            flags |= ft.HB_SENSOR_FAULT
        if self._checkin_due is not None:
            flags |= ft.HB_CHECKIN_ACTIVE
            self._save_checkin(up)
        if self.config["covert"]:
            flags |= ft.HB_COVERT
        if self._booted:
            flags |= ft.HB_BOOTED
        if self.outbox.full():
            flags |= ft.HB_OUTBOX_FULL
        for link in self.hw.links:
            if link.up and getattr(link, "kind", "") == "ble":
                flags |= ft.HB_LINK_BLE
        fields = (self.battery_pct, flags, min(self.outbox.depth(), 255), min(up // 3600000, 255))
        self.alarms.refresh(up)
        if self._queue(ft.HEARTBEAT, fields, up) is not None:
            self._booted = False

    # -- check-in (amber alert) -------------------------------------------------------------
    def start_checkin(self, minutes, up=None):
        up = self.uptime_ms if up is None else up
        minutes = max(1, min(int(minutes), _MAX_U16))
        if self._queue(ft.CHECKIN_START, minutes, up) is None:
            return False
        self._checkin_due = up + minutes * 60000
        self._checkin_reminded = False
        self._save_checkin(up)
        self._feedback("checkin_started")
        return True

    def stop_checkin(self, up=None):
        up = self.uptime_ms if up is None else up
        if self._checkin_due is None:
            return False
        self._checkin_due = None
        self._remove("checkin")
        self._queue(ft.CHECKIN_STOP, 0, up)
        self._feedback("checkin_stopped")
        return True

    def checkin_remaining_s(self):
        if self._checkin_due is None:
            return 0
        return max(0, (self._checkin_due - self.uptime_ms) // 1000)

    def _save_checkin(self, up):
        # Remaining time, refreshed every heartbeat: after a reboot the check-in is due at most
        # one heartbeat late, never forgotten.
        rem = max(0, (self._checkin_due - up) // 1000)
        self._write("checkin", struct.pack(">I", rem))

    def _load_checkin(self):
        raw = self.hw.store.read("checkin")
        if raw and len(raw) == 4:
            self._checkin_due = struct.unpack(">I", raw)[0] * 1000

    # -- frames out ---------------------------------------------------------------------------
    def _queue(self, ftype, detail, up, held=False, cancels=None):
        # Reserve a counter, persist, and let _flush send. Returns the counter or None.
        if self._encoder is None:
            self.log("not provisioned: %s not sent" % ft.NAMES[ftype])
            if ft.is_alarm(ftype):
                self._feedback("not_provisioned")
            return None
        c = self.counters.next()
        fmt = ft.layout(ftype)
        if ftype == ft.HEARTBEAT:
            fields = detail
        elif cancels is not None:
            fields = (min(c - cancels, _MAX_U16),)
        elif fmt == ft.CHECKIN_BODY:
            fields = (detail,)
        else:
            fields = (self.battery_pct, detail)
        if not self.outbox.add(ftype, c, fields, up, held):
            self._emit("dropped", {"type": ft.NAMES[ftype], "counter": c})
            return None
        if ft.is_alarm(ftype):
            self.alarms.add(c, ftype, up)
            self._alarms_dirty = True
        self._emit("raised", {"type": ft.NAMES[ftype], "counter": c, "held": held})
        return c

    def frame_for(self, e, up):
        # Signed at send time: the same counter with the current age (the monitor dedups).
        age = min((up - e.raised) // 1000, _MAX_U16)
        f = e.fields
        fmt = ft.layout(e.ftype)
        if fmt == ft.HEARTBEAT_BODY:
            body = f
        elif fmt == ft.ALARM_BODY:
            bat = f[0] | (ft.AGE_LOWER_BOUND if e.old else 0)
            body = (bat, f[1], age)
        else:
            body = (f[0], age)
        return self._encoder.encode(e.ftype, e.counter, body)

    def _flush(self, now, up):
        links = self.hw.links
        any_up = False
        for link in links:
            if link.up:
                any_up = True
        if any_up and not self._links_up:
            self.outbox.retry_now(now)
        self._links_up = any_up
        if not any_up or self._encoder is None:
            return
        for e in self.outbox.due(now):
            frame = self.frame_for(e, up)
            sent = False
            for link in links:
                if link.up and link.send(frame):
                    sent = True
            if sent:
                self.outbox.sent(e, now)
                if self._trace is not None:
                    d = {"type": ft.NAMES[e.ftype], "counter": e.counter, "frame": frame_hex(frame)}
                    self._emit("frame_sent", d)

    # -- frames in (any link) ----------------------------------------------------------------
    def on_downlink(self, data):
        # Returns the verified frame, or None after counting the rejection. Never raises.
        if self._encoder is None:
            self.downlink_rejected += 1
            return None
        try:
            f = frames.decode(data, self.identity.key, expect=ft.DOWNLINK)
            if f.device_id != self.identity.device_id:
                raise ProtocolError("frame for device %d" % f.device_id)
            self._rx.accept(f.counter)
        except ProtocolError as e:
            self.downlink_rejected += 1
            self._emit("downlink_rejected", {"reason": e.reason})
            return None
        if f.ftype != ft.ACK:
            # A replayed ACK_HELP or COMMAND must stay refused after a reboot; a replayed plain
            # ACK names a counter already gone, so ACKs (one a minute) spare the flash.
            self._save_rx()
        up = self.uptime_ms
        t = f.ftype
        if t == ft.COMMAND:
            self._command(f.fields, up)
        else:
            e = self.outbox.ack(f.fields[0])
            if t == ft.ACK_HELP:
                # Only for an alarm of ours still waiting, young enough, and not followed by a
                # newer one (firmware/raised.py). The monitor repeats it after a reboot: played
                # once per alarm per boot, not once per repeat.
                verdict = self.alarms.answer(f.fields[0], up)
                if verdict == SAY:
                    self._feedback("help_coming")
                else:
                    if verdict == SUPERSEDED:
                        self.log("help for alarm %d: a newer alarm is waiting" % f.fields[0])
                    self._emit("help_withheld", {"counter": f.fields[0], "verdict": verdict})
            elif t == ft.ACK_RESOLVED:
                self.alarms.close(f.fields[0], up)
                self._feedback("resolved")
            elif e is not None and ft.is_alarm(e.ftype):
                self._feedback("delivered")
        self._emit("downlink", {"type": f.name, "fields": list(f.fields)})
        return f

    def _command(self, fields, up):
        cmd, arg, value = fields
        if cmd == ft.CMD_START_CHECKIN:
            self.start_checkin(value or self.config["checkin_min"], up)
        elif cmd == ft.CMD_STOP_CHECKIN:
            self.stop_checkin(up)
        elif cmd == ft.CMD_SET_HEARTBEAT and value >= 10:
            self.config.update({"heartbeat_s": value})
            self._next_hb = up + value * 1000
        elif cmd == ft.CMD_SET_COVERT:
            self.config.update({"covert": 1 if arg else 0})
        elif cmd == ft.CMD_LOCATE:
            self.hw.feedback.play("locate", False)
        elif cmd == ft.CMD_SET_NO_MOTION:
            self.config.update({"no_motion_s": value})
            self._moved(up)
        else:
            self.log("unknown command %d" % cmd)

    def _load_rx(self):
        raw = self.hw.store.read("rx")
        if raw and len(raw) == 12:
            h, hi, lo = struct.unpack(">III", raw)
            return h - 1, (hi << 32) | lo
        return -1, 0

    def _save_rx(self):
        # Persisted so a downlink replayed after a reboot (an old ACK_HELP) is still refused.
        h, bm = self._rx.state()
        self._write("rx", struct.pack(">III", h + 1, bm >> 32, bm & 0xFFFFFFFF))

    def _remove(self, name):
        try:
            self.hw.store.remove(name)
        except OSError as e:
            self.log("flash remove of %s failed: %r" % (name, e))

    def _write(self, name, data):
        try:
            self.hw.store.write(name, data)
        except OSError as e:
            self.log("flash write of %s failed: %r" % (name, e))

    def test_frame(self):
        # A signed TEST frame under a fresh counter: proves id + key end to end at provisioning.
        if self._encoder is None:
            return None
        c = self.counters.next()
        return bytes(self._encoder.encode(ft.TEST, c, (self.battery_pct, 0, 0)))

    # -- reporting ----------------------------------------------------------------------------
    def _feedback(self, name):
        self.hw.feedback.play(name, bool(self.config["covert"]))

    def log(self, text):
        lines = self.log_lines
        lines.append(text)
        if len(lines) > 16:
            lines.pop(0)
        for link in self.hw.links:
            if hasattr(link, "log"):
                link.log(text)
        self._emit("log", {"message": text})

    def _emit(self, name, data):
        if self._trace is not None:
            self._trace(name, data)

    def status(self):
        import gc

        return {
            "provisioned": self.provisioned,
            "device_id": self.identity.device_id,
            "battery_pct": self.battery_pct,
            "outbox": self.outbox.depth(),
            "sensor_ok": self.sensor_ok,
            "mem_free": gc.mem_free() if hasattr(gc, "mem_free") else 0,
            "uptime_s": self.uptime_ms // 1000,
            "counter": self.counters.peek(),
            "checkin_s": self.checkin_remaining_s(),
            "prealarm": self._prealarm is not None,
            "covert": self.config["covert"],
            "pairing": self.pairing.is_open,
        }
