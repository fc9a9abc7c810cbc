# Runs a whole scripted scenario inside the interpreter and returns a compact log, so one
# hypothesis example costs one call into MicroPython instead of thousands of round trips.
#
# steps: lists, e.g. ["hold", 2500, 8, 3] (press for 2500 ms, 8 ms bounce, seed 3, then wait
# for it to end), ["wait", ms], ["link", 0|1], ["acks", 0|1], ["help", 0|1], ["reboot"],
# ["cut", n] (power cut at the n-th flash operation from now), ["flash_full", 0|1], ["fall"],
# ["walk", 0|1], ["move", 0|1] (the wearer goes about their work), ["battery", pct],
# ["sensor", 0|1], ["checkin", minutes], ["downlink", hex]
# (raw bytes in), ["monitor", type, fields] (the simulated monitor signs and sends it),
# ["admin", hex] (a provisioning message on the serial link; the reply goes to log["replies"]),
# ["taps", n, every_ms] (n quick 100 ms taps, then wait for the gesture), ["bond"] (the BLE link
# stored a new bond) and ["bond_attempt"] (a central asks to bond; -> log["bond_allowed"]).
from firmware.identity import Identity
from hardware.sim.board import SimBoard
from hardware.sim.flash import PowerCut
from hardware.sim.link import SimLink

TICK_MS = 10  # the device's main loop period


class Runner:
    def __init__(self, root, device_id=None, key=None, config=None, tick_ms=TICK_MS):
        self.events = []
        self.feedback = []
        self.replies = []
        self.bond_allowed = []
        self.cuts = 0
        self.tick = tick_ms
        self.link = SimLink(None)
        self.board = SimBoard(root, links=[self.link], on_feedback=self._fb)
        self.link._clock = self.board.clock
        if key is not None:
            key = bytes.fromhex(key) if isinstance(key, str) else key
            Identity(self.board.flash).set(device_id, key)
            self.link.key = key
            self.link.device_id = device_id
        if config:
            from firmware.config import Config

            Config(self.board.flash).update(config)
        self._boot()

    def _fb(self, name, covert):
        self.feedback.append([self.board.clock.elapsed, name])

    def _trace(self, name, data):
        if name in ("raised", "cancelled", "dropped", "released", "boot"):
            d = dict(data)
            d["t"] = self.board.clock.elapsed
            d["event"] = name
            self.events.append(d)

    def _boot(self):
        while True:
            try:
                self.fob = self.board.boot(self._trace)
                return
            except PowerCut:
                self.cuts += 1  # cut while booting: boot again

    def wait(self, ms):
        clock = self.board.clock
        end = clock.elapsed + ms
        while clock.elapsed < end:
            clock.advance(self.tick)
            try:
                self.fob.poll()
            except PowerCut:
                self.cuts += 1
                self._boot()

    def step(self, s):
        op = s[0]
        b = self.board
        if op == "wait":
            self.wait(s[1])
        elif op in ("hold", "press"):
            bounce = s[2] if len(s) > 2 else 0
            b.button.press(b.clock.elapsed, s[1], bounce, s[3] if len(s) > 3 else 0)
            self.wait(s[1] + bounce + self.tick)
        elif op == "taps":
            every = s[2] if len(s) > 2 else 250
            for i in range(s[1]):
                b.button.press(b.clock.elapsed + i * every, 100)
            self.wait(s[1] * every + 600)  # past the 500 ms gap that ends the gesture
        elif op == "bond":
            self.fob.pairing.bonded()
        elif op == "bond_attempt":
            self.bond_allowed.append(self.fob.pairing.allow_bond())
        elif op == "link":
            self.link.up = bool(s[1])
        elif op == "acks":
            self.link.acks = bool(s[1])
        elif op == "help":
            self.link.help = bool(s[1])
        elif op == "reboot":
            b.button.clear_before(b.clock.elapsed + 1)
            self._boot()
        elif op == "cut":
            b.flash.cut_after = s[1]
        elif op == "flash_full":
            b.flash.full = bool(s[1])
        elif op == "fall":
            b.accel.fall()
        elif op == "walk":
            b.accel.walking = bool(s[1])
            if not s[1]:
                b.accel.rest = (0, 0, 1000)
        elif op == "move":
            b.accel.moving = bool(s[1])
        elif op == "battery":
            b.battery.set(s[1])
        elif op == "sensor":
            b.accel.fail(not s[1])
        elif op == "checkin":
            self.fob.start_checkin(s[1])
        elif op == "downlink":
            self.fob.on_downlink(bytes.fromhex(s[1]))
        elif op == "monitor":
            self.link.downlink(s[1], s[2])
        elif op == "admin":
            reply = self.board.admin.handle(bytes.fromhex(s[1]))
            self.replies.append(None if reply is None else reply.hex())
        else:
            raise ValueError("unknown step %r" % (op,))

    def log(self):
        return {
            "sent": [[t, f.hex()] for t, f in self.link.sent],
            "events": self.events,
            "feedback": self.feedback,
            "outbox": self.fob.outbox.depth(),
            "dropped": self.fob.outbox.dropped,
            "boots": self.board.boots,
            "cuts": self.cuts,
            "now": self.board.clock.elapsed,
            "status": self.fob.status(),
            "replies": self.replies,
            "pairing": {
                "open": self.fob.pairing.is_open,
                "opened": self.fob.pairing.opened,
                "bonds": self.fob.pairing.bonds,
                "refused": self.fob.pairing.refused,
            },
            "bond_allowed": self.bond_allowed,
            "rejected": self.fob.downlinks.rejected,
        }


def run(root, steps, device_id=None, key=None, config=None):
    r = Runner(root, device_id, key, config)
    for s in steps:
        r.step(s)
    return r.log()


def outbox_run(root, ops, capacity):
    # Drives the outbox alone: ops are ["add", type, held], ["ack", counter], ["release",
    # counter], ["reboot"], ["due"]. Returns one result per op.
    from firmware.outbox import Outbox
    from hardware.sim.clock import VirtualClock
    from hardware.sim.flash import SimFlash

    clock = VirtualClock()
    flash = SimFlash(root)
    box = Outbox(flash, clock, capacity)
    counter = 0
    out = []
    for op in ops:
        k = op[0]
        if k == "add":
            ok = box.add(op[1], counter, (50, 0) if op[1] != 0x0A else (50, 0, 0, 0), 0, op[2])
            out.append([counter, ok, box.depth(), box.dropped])
            counter += 1
        elif k == "ack":
            out.append(box.ack(op[1]) is not None)
        elif k == "release":
            out.append(box.release(op[1]) is not None)
        elif k == "reboot":
            box = Outbox(flash, clock, capacity)
            out.append(box.depth())
        elif k == "due":
            clock.advance(1)
            out.append([[e.ftype, e.counter] for e in box.due(clock.ticks_ms(), 1000)])
    return out


def raised_run(root, ops):
    # Drives the table of raised alarms alone, at explicit uptimes: ["add", counter, type, up],
    # ["answer", counter, up] (-> verdict), ["close", counter, up], ["refresh", up], ["reboot"].
    from firmware.raised import Raised
    from hardware.sim.flash import SimFlash

    flash = SimFlash(root)
    table = Raised(flash)
    out = []
    for op in ops:
        k = op[0]
        if k == "add":
            table.add(op[1], op[2], op[3])
            table.save(op[3])
            out.append(None)
        elif k == "answer":
            out.append(table.answer(op[1], op[2]))
        elif k == "close":
            table.close(op[1], op[2])
            out.append(None)
        elif k == "refresh":
            table.refresh(op[1])
            out.append(None)
        elif k == "reboot":
            table = Raised(flash)
            out.append(table.corrupt)
    return out


def truncate(path, n):
    # A torn write, for tests: keep the first n bytes of a flash file.
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:n])
