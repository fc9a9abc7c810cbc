"""A simulated fob in real time: the real firmware on the simulated board, its UART on a pty.

    python -m hardware.sim.run_fob --flash var/fob1 [--link-path var/fob1.tty]
        [--device-id 7] [--config '{"sos_hold_ms": 1000}'] [--ble] [--still]
    with the key in VIGIL_SIM_FOB_KEY=00112233... (or --key, which `ps` shows to everyone)

Prints JSON lines on stdout: first {"event": "ready", "pty": ...}, then every feedback pattern,
frame sent, downlink and log line. Reads control commands as lines on stdin:
    sos | press | pair | fall | trace [SISFALL_FILE] | cancel | link down | link up | battery N |
    reboot | power-cut | power-cut-after N | status | checkin N | checkout | walk on|off |
    move on|off | sensor fail|ok | quit

The wearer goes about their work (a few steps, standing, fidgeting: hardware/sim/wearer.py)
unless started with --still or told `move off`; a fall or trace leaves them lying still until
`move on`. The state is reported after "ready" and on every change as
{"event": "wearer", "moving": true|false}.
"""

import argparse
import json
import os
import queue
import sys
import threading
import time
from pathlib import Path

from firmware.config import Config
from firmware.identity import Identity
from firmware.serial_link import SerialLink
from hardware.sim import scripted_fall
from hardware.sim.board import SimBoard
from hardware.sim.clock import RealClock
from hardware.sim.flash import PowerCut
from hardware.sim.pty_uart import PtyUart

TICK_S = 0.005  # main-loop period; the device runs at 10 ms, faster here costs nothing
PAIR_TAP_EVERY_MS = 250  # quick taps, well inside the 500 ms gap that ends a tap gesture
_TRACED = (
    "frame_sent",
    "raised",
    "downlink",
    "downlink_rejected",
    "cancelled",
    "released",
    "boot",
    "dropped",
    "log",
)


class ElapsedClock(RealClock):
    # The simulated parts script their behaviour in ms since start.
    def __init__(self):
        RealClock.__init__(self)
        self._start = time.monotonic()

    @property
    def elapsed(self):
        return int((time.monotonic() - self._start) * 1000)


def emit(event, **data):
    data["event"] = event
    print(json.dumps(data), flush=True)


class SimFob:
    def __init__(self, args):
        self.uart = PtyUart(args.link_path)
        self.serial = SerialLink(self.uart)
        links = [self.serial]
        if args.ble:
            from hardware.sim import ble  # bumble GATT peripheral (see hardware/README.md)

            self.ble = ble.BleLink()
            links.append(self.ble)
        self.board = SimBoard(
            args.flash, clock=ElapsedClock(), links=links, on_feedback=self._feedback
        )
        flash = self.board.flash
        if args.key:
            Identity(flash).set(args.device_id, bytes.fromhex(args.key))
        if args.config:
            Config(flash).update(json.loads(args.config))
        self.board.accel.moving = not args.still
        self.commands = queue.Queue()
        self.running = True
        self.boot()

    def _feedback(self, name, covert):
        emit("feedback", pattern=name, covert=bool(covert))

    def _trace(self, name, data):
        if name in _TRACED:
            emit(name, **data)

    def boot(self):
        while True:
            try:
                self.fob = self.board.boot(self._trace)
                return
            except PowerCut:
                emit("power_cut", during="boot")

    def command(self, line):
        words = line.split()
        if not words:
            return
        cmd, rest = words[0], words[1:]
        b = self.board
        now = b.clock.elapsed
        if cmd == "sos":
            b.button.press(now, self.fob.config["sos_hold_ms"] + 300)
        elif cmd == "press":
            b.button.press(now, 150)
        elif cmd == "pair":  # five quick taps: the BLE pairing window opens for 60 s
            for i in range(5):
                b.button.press(now + i * PAIR_TAP_EVERY_MS, 120)
        elif cmd == "fall":
            b.accel.fall()
            emit("wearer", moving=False)
        elif cmd == "trace":
            self.trace(rest[0] if rest else None)
        elif cmd == "cancel":
            if self.fob.status()["prealarm"]:
                b.button.press(now, 150)
            else:  # three taps: SOS-cancel
                for i in range(3):
                    b.button.press(now + i * 300, 120)
        elif cmd == "link":
            up = rest[:1] == ["up"]
            for link in b.links:
                link.up = up
            emit("link", up=up)
        elif cmd == "battery":
            b.battery.set(int(rest[0]))
        elif cmd in ("reboot", "power-cut"):
            b.button.clear_before(now + 1)
            emit("power_cut" if cmd == "power-cut" else "reboot")
            self.boot()
        elif cmd == "power-cut-after":
            # The supply dies inside the n-th flash write/rename/remove from now (torn write).
            b.flash.cut_after = int(rest[0])
        elif cmd == "status":
            emit("status", pty=self.uart.path, **self.fob.status())
        elif cmd == "checkin":
            self.fob.start_checkin(int(rest[0]) if rest else self.fob.config["checkin_min"])
        elif cmd == "checkout":
            self.fob.stop_checkin()
        elif cmd == "walk":
            b.accel.walking = rest[:1] == ["on"]
        elif cmd == "move":
            b.accel.moving = rest[:1] == ["on"]
            emit("wearer", moving=b.accel.moving)
        elif cmd == "sensor":
            b.accel.fail(rest[:1] == ["fail"])
        elif cmd == "quit":
            self.running = False
        else:
            emit("error", message="unknown command %r" % line.strip())

    def trace(self, path):
        # Replays a SisFall recording (default: the first fall trial in the shared data set, if
        # there is one, else the scripted fall) through the simulated accelerometer at 50 Hz.
        from hardware import sisfall

        accel = self.board.accel
        if path is None:
            root = sisfall.default_data_dir(Path(__file__).resolve().parents[2])
            falls = [p for p in sisfall.find_trials(root or ".") if "F" in Path(p).name[:1]]
            if not falls:
                accel.fall()
                emit(
                    "trace",
                    path="scripted fall (hardware/sim/scripted_fall.py)",
                    samples=len(scripted_fall.samples()),
                )
                emit("wearer", moving=False)
                return
            path = falls[0]
        trial = sisfall.load_trial(path)
        accel.lie_after(trial.samples[-1])  # stays as the recording ended
        accel.play(trial.samples, sisfall.FOB_HZ)
        emit("trace", path=str(path), samples=len(trial.samples))
        emit("wearer", moving=False)

    def run(self):
        emit(
            "ready",
            pty=self.uart.path,
            link_path=self.uart.link_path,
            provisioned=self.fob.provisioned,
            device_id=self.fob.identity.device_id,
            moving=self.board.accel.moving,
        )
        emit("wearer", moving=self.board.accel.moving)
        threading.Thread(target=self._stdin, daemon=True).start()
        while self.running:
            while not self.commands.empty():
                line = self.commands.get()
                try:
                    self.command(line)
                except Exception as e:  # a bad command must not take the fob down
                    emit("error", message="%s: %s" % (line.strip(), e))
            try:
                self.fob.poll()
            except PowerCut:
                emit("power_cut", during="poll")
                self.boot()
            time.sleep(TICK_S)
        self.uart.close()

    def _stdin(self):
        for line in sys.stdin:
            self.commands.put(line)
        self.commands.put("quit")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--flash", required=True, help="directory holding the fob's flash")
    p.add_argument("--link-path", help="symlink to create pointing at the pty")
    p.add_argument("--device-id", type=int, default=None)
    p.add_argument(
        "--key",
        default=os.environ.get("VIGIL_SIM_FOB_KEY") or None,
        help="hex key: pre-provision the fob (else use serial provisioning); prefer the "
        "VIGIL_SIM_FOB_KEY environment variable, which `ps` does not show",
    )
    p.add_argument("--config", help="JSON object of config overrides, e.g. sos_hold_ms")
    p.add_argument("--ble", action="store_true", help="also expose the bumble BLE peripheral")
    p.add_argument(
        "--still",
        action="store_true",
        help="the wearer lies still from the start (default: going about their work)",
    )
    args = p.parse_args(argv)
    if args.key and args.device_id is None:
        p.error("--key needs --device-id")
    SimFob(args).run()


if __name__ == "__main__":
    main()
