# The fob: one poll() from the main loop advances every part in a fixed order.
#
# Every piece of hardware is passed in (see Hardware below), so the same object runs on the
# ESP32 and, in virtual time, on the simulated board under CPython and MicroPython. poll() never
# blocks and never sleeps: the caller decides how often to run it (10-20 ms on the device).
#
# The parts, each in its own module, get what they need passed in and never import this one:
#   motion_watch.py   fall pre-alarm and no-motion      checkin.py    the amber-alert timer
#   battery_alerts.py the level and low-battery alerts  downlinks.py  frames in: verify, acks
#   report.py         feedback, log and trace
# Here: gestures and commands (they reach several parts), frames out (counters, the outbox,
# signing at send time), the heartbeat (it summarises every part) and the status read-out.
from firmware import gestures as g
from firmware.battery_alerts import BatteryAlerts
from firmware.checkin import Checkin
from firmware.config import Config
from firmware.downlinks import Downlinks
from firmware.identity import Identity
from firmware.motion_watch import MotionWatch
from firmware.outbox import Outbox
from firmware.pairing import PairingWindow
from firmware.raised import Raised
from firmware.report import Report
from protocol import frame_types as ft
from protocol import frames
from protocol.const import const
from protocol.counter import CounterStore

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
        store = hw.store
        self.config = config = Config(store)
        self.report = report = Report(hw.feedback, config, hw.links, store, trace)
        self.identity = Identity(store)
        self.counters = CounterStore(store.path("counter"))
        self.outbox = Outbox(store, clock)
        self.alarms = Raised(store)  # what "help is coming" may answer
        self._alarms_dirty = False
        self.gestures = g.Gestures(hw.button, clock, config["sos_hold_ms"])
        # Read by the BLE link (attach() gives it this Fob): new bonds only while open.
        self.pairing = PairingWindow(clock, report.play)
        now = clock.ticks_ms()
        self._last = now
        self.uptime_ms = 0
        self._encoder = None
        q = self._queue  # the parts' frame sink: counters, the outbox and signing stay here
        self.motion = MotionWatch(clock, hw.accel, config, self.outbox, self.alarms, report, q, now)
        self.downlinks = Downlinks(self.identity, store, self.outbox, self.alarms, report)
        self.battery = BatteryAlerts(hw.battery, config, report, q)
        self.checkin = Checkin(config, store, report, q)
        self._sos = None  # (counter, uptime ms) of the last SOS, for the cancel gesture
        self._next_hb = 0
        self._booted = True
        self._links_up = False
        self._rekey()
        report.emit("boot", {"outbox": self.outbox.depth(), "provisioned": self.provisioned})

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
            self.downlinks.forget()
            self.alarms.wipe()  # another identity's counters: its ACK_HELPs are not ours

    def clear_checkin(self):
        self.checkin.clear()

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
        self.motion.sample(now, up)
        # The timers, always in this order: when several fire in one poll, their counters do too.
        self.motion.timers(up)
        self.checkin.timers(up)
        self.battery.poll(up)
        if up >= self._next_hb:
            self._next_hb = up + self.config["heartbeat_s"] * 1000
            self._heartbeat(up)
        self._flush(now, up)
        if self._alarms_dirty:
            # Saved after the flush, so a new alarm goes out before this extra flash write.
            self._alarms_dirty = False
            self.alarms.save(up)
        self.hw.feedback.poll(now)

    # -- gestures ---------------------------------------------------------------------------
    def _on_gesture(self, ev, up):
        if ev == g.DOWN:
            self.motion.pressed(up)
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
                self.report.play("cancelled")
            elif ev == g.TAP5:
                self.pairing.open(self._clock.ticks_ms())
        elif ev == g.TAP2:
            if self.checkin.due is None:
                self.start_checkin(self.config["checkin_min"], up)
            else:
                self.stop_checkin(up)
        elif ev == g.TAP1:
            self.report.play("ok")

    def raise_sos(self, up=None):
        up = self.uptime_ms if up is None else up
        c = self._queue(ft.SOS, 0, up)
        if c is not None:
            self._sos = (c, up)
            self.report.play("sos_raised")

    # -- check-in, for gestures, commands and the simulator ---------------------------------
    def start_checkin(self, minutes, up=None):
        return self.checkin.start(minutes, self.uptime_ms if up is None else up)

    def stop_checkin(self, up=None):
        return self.checkin.stop(self.uptime_ms if up is None else up)

    def checkin_remaining_s(self):
        return self.checkin.remaining_s(self.uptime_ms)

    # -- heartbeat --------------------------------------------------------------------------
    def _heartbeat(self, up):
        flags = 0
        if not self.motion.sensor_ok:
            flags |= ft.HB_SENSOR_FAULT
        if self.checkin.due is not None:
            flags |= ft.HB_CHECKIN_ACTIVE
            self.checkin.save(up)
        if self.config["covert"]:
            flags |= ft.HB_COVERT
        if self._booted:
            flags |= ft.HB_BOOTED
        if self.outbox.full():
            flags |= ft.HB_OUTBOX_FULL
        for link in self.hw.links:
            if link.up and getattr(link, "kind", "") == "ble":
                flags |= ft.HB_LINK_BLE
        fields = (self.battery.pct, flags, min(self.outbox.depth(), 255), min(up // 3600000, 255))
        self.alarms.refresh(up)
        if self._queue(ft.HEARTBEAT, fields, up) is not None:
            self._booted = False

    # -- frames out ---------------------------------------------------------------------------
    def _queue(self, ftype, detail, up, held=False, cancels=None):
        # The parts' frame sink. Reserve a counter, persist, and let _flush send. Returns the
        # counter or None.
        report = self.report
        if self._encoder is None:
            report.log("not provisioned: %s not sent" % ft.NAMES[ftype])
            if ft.is_alarm(ftype):
                report.play("not_provisioned")
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
            fields = (self.battery.pct, detail)
        if not self.outbox.add(ftype, c, fields, up, held):
            report.emit("dropped", {"type": ft.NAMES[ftype], "counter": c})
            return None
        if ft.is_alarm(ftype):
            self.alarms.add(c, ftype, up)
            self._alarms_dirty = True
        report.emit("raised", {"type": ft.NAMES[ftype], "counter": c, "held": held})
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
                if self.report.trace is not None:
                    d = {"type": ft.NAMES[e.ftype], "counter": e.counter, "frame": frame_hex(frame)}
                    self.report.emit("frame_sent", d)

    def test_frame(self):
        # A signed TEST frame under a fresh counter: proves id + key end to end at provisioning.
        if self._encoder is None:
            return None
        c = self.counters.next()
        return bytes(self._encoder.encode(ft.TEST, c, (self.battery.pct, 0, 0)))

    # -- frames in (any link) ----------------------------------------------------------------
    def on_downlink(self, data):
        # Returns the verified frame, or None after counting the rejection. Never raises.
        f = self.downlinks.receive(data, self._encoder is not None, self.uptime_ms)
        if f is None:
            return None
        if f.ftype == ft.COMMAND:
            self._command(f.fields, self.uptime_ms)
        self.report.emit("downlink", {"type": f.name, "fields": list(f.fields)})
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
            self.motion.moved(up)
        elif cmd == ft.CMD_SET_CHECKIN_MIN and value:
            self.config.update({"checkin_min": value})
        else:
            self.log("unknown command %d" % cmd)

    # -- reporting ----------------------------------------------------------------------------
    def log(self, text):
        self.report.log(text)

    def status(self):
        import gc

        return {
            "provisioned": self.provisioned,
            "device_id": self.identity.device_id,
            "battery_pct": self.battery.pct,
            "outbox": self.outbox.depth(),
            "sensor_ok": self.motion.sensor_ok,
            "mem_free": gc.mem_free() if hasattr(gc, "mem_free") else 0,
            "uptime_s": self.uptime_ms // 1000,
            "counter": self.counters.peek(),
            "checkin_s": self.checkin_remaining_s(),
            "prealarm": self.motion.prealarm is not None,
            "covert": self.config["covert"],
            "pairing": self.pairing.is_open,
        }
