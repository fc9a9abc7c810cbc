# Power-on: a board's parts wired into a running Fob. firmware/main.py calls it with the ESP32's
# parts, hardware/sim/board.py with the simulated board's, so every test of the simulator runs
# the device's own wiring.
from firmware.feedback import Feedback
from firmware.fob import Fob, Hardware
from firmware.serial_link import LazyAdmin


def build_fob(clock, parts, store, links, board, trace=None, on_play=None):
    # parts: button, accel, battery, vibe, buzzer, led, as hardware/esp32.build() returns them.
    # links: every link the fob sends on; each is attached to the new Fob with the provisioning
    # service (only the serial link acts on it). Returns (fob, admin).
    fb = Feedback(
        clock, vibe=parts["vibe"], buzzer=parts["buzzer"], led=parts["led"], on_play=on_play
    )
    hw = Hardware(clock, parts["button"], parts["accel"], parts["battery"], store, fb, links, board)
    fob = Fob(hw, trace)
    admin = LazyAdmin(fob)
    for link in hw.links:
        link.attach(fob, admin)
    return fob, admin
