# The pairing window (firmware/pairing.py) alone, for tests on both interpreters. Its own
# module so the scenario runner that benches load stays the size it was.


def run(ops):
    # Drives the pairing window alone on a virtual clock that wraps early: ["open"], ["wait",
    # ms], ["bonded"] (-> accepted?), ["allow"] (-> allowed?), ["stay", since_ms_ago] (-> may a
    # central connected that long ago stay?), ["close"]. Each op gives one result; the last one
    # is [feedback played, counters].
    from firmware.pairing import PairingWindow
    from hardware.sim.clock import VirtualClock

    clock = VirtualClock()
    played = []
    w = PairingWindow(clock, played.append)
    out = []
    for op in ops:
        k = op[0]
        if k == "open":
            w.open(clock.ticks_ms())
            out.append(w.is_open)
        elif k == "wait":
            end = clock.elapsed + op[1]
            while clock.elapsed < end:
                clock.advance(10)
                w.poll(clock.ticks_ms())
            out.append(w.is_open)
        elif k == "bonded":
            out.append(w.bonded())
        elif k == "allow":
            out.append(w.allow_bond())
        elif k == "stay":
            now = clock.ticks_ms()
            out.append(w.may_stay(clock.ticks_add(now, -op[1]), now))
        elif k == "close":
            w.close()
            out.append(w.is_open)
    out.append([played, [w.opened, w.bonds, w.refused]])
    return out
