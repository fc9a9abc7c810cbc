"""Evaluate the fob's fall detector (firmware/fall_detector.py, the code the fob runs) on SisFall.

    .venv/bin/python -m bench.fall_eval [--data DIR] [--plot PNG] [--jobs N]

Every SisFall trial under DIR (`.txt` or `.txt.gz`, any subjects) is converted to the fob's
50 Hz integer milli-g stream (hardware/sisfall.py) and fed sample by sample to
`firmware.fall_detector.FallDetector`. A fall trial counts as detected if the detector returns
FALL at any point in it; an ADL trial is a false alarm if it does (per trial, as in Sucerquia et
al. 2017, Sensors 17(1):198).

Thresholds are chosen by leave-one-subject-out cross-validation: for each subject, the grid
point whose worse margin to the targets (sensitivity 98 %, specificity 99 %) is largest on all
OTHER subjects is chosen, and that subject's trials are scored with it. The headline figures
pool these held-out scores; no subject is ever scored with thresholds tuned on it. The
"deployed" line shows the grid point chosen on all subjects (the firmware defaults) with its
optimistic, in-sample figures for reference.

Impact time of a fall trial = the sample with the largest acceleration magnitude; detection
delay = time of the FALL event minus impact time.

Last line: JSON {"sensitivity", "specificity", "elderly_specificity", "n_falls", "n_adls",
"median_delay_s", "subjects"}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import pickle
import statistics
import struct
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from firmware import fall_detector as fd
from hardware import sisfall

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PLOT = ROOT / "docs" / "fall-detection-sweep.png"
CACHE_DIR = ROOT / "var" / "cache"
RATE_HZ = 50
# Issue 6's targets, per trial; threshold selection balances the margins to both.
TARGET_SENSITIVITY = 0.98
TARGET_SPECIFICITY = 0.99

# Threshold grid. impact_mg spans the literature's 1.6-3 g impact thresholds; flat_deg is how
# far from vertical (or turned) the trunk must lie after the impact (0 = test off); lying_deg 90
# switches the "already lying" test off except for an upside-down fob. angle_deg (the minimum
# orientation change) stays at 40: 50 and 60 were never chosen in earlier runs of this grid.
IMPACT_GRID = (1600, 1800, 2000, 2200, 2400, 2600, 2800, 3000)
FLAT_GRID = (0, 55, 65, 75)
LYING_GRID = (80, 90)
ANGLE_DEG = 40
GRID = [
    {"impact_mg": i, "angle_deg": ANGLE_DEG, "lying_deg": lying, "flat_deg": flat}
    for i in IMPACT_GRID
    for flat in FLAT_GRID
    for lying in LYING_GRID
]

Key = tuple[str, str, int]  # (code, subject, trial)


# ---------------------------------------------------------------------------------------------
# Data: load once, cache the converted 50 Hz streams keyed by the files' names, sizes and mtimes.


def _load_one(path: str) -> tuple[Key, list[tuple[int, int, int]]]:
    t = sisfall.load_trial(path, RATE_HZ)
    return (t.code, t.subject, t.trial), t.samples


def load_all(data: Path, jobs: int) -> dict[Key, list[tuple[int, int, int]]]:
    paths = sisfall.find_trials(str(data))
    if not paths:
        raise SystemExit(f"no SisFall trial files (<CODE>_<SUBJECT>_Rnn.txt[.gz]) under {data}")
    sig = [(p, os.path.getsize(p), int(os.path.getmtime(p))) for p in paths]
    digest = hashlib.sha1(repr((str(data.resolve()), RATE_HZ, sig)).encode()).hexdigest()[:16]
    cache = CACHE_DIR / f"sisfall-{digest}.pkl"
    if cache.exists():
        with cache.open("rb") as f:
            cached: dict[Key, list[tuple[int, int, int]]] = pickle.load(f)
        return cached
    with multiprocessing.Pool(jobs) as pool:
        loaded = dict(pool.map(_load_one, paths, chunksize=8))
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(loaded, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(cache)
    return loaded


# ---------------------------------------------------------------------------------------------
# Running the firmware detector.


def first_fall(samples: list[tuple[int, int, int]], params: dict[str, int]) -> int:
    """Index of the first FALL event, or -1. Stops there: later events do not change a trial."""
    step = fd.FallDetector(RATE_HZ, **params).step
    fall = fd.FALL
    for i, (x, y, z) in enumerate(samples):
        if step(x, y, z) == fall:
            return i
    return -1


def impact_index(samples: list[tuple[int, int, int]]) -> int:
    best, at = -1, 0
    for i, (x, y, z) in enumerate(samples):
        m2 = x * x + y * y + z * z
        if m2 > best:
            best, at = m2, i
    return at


def _run_trial(item: tuple[Key, list[tuple[int, int, int]]]) -> tuple[Key, list[int], int]:
    key, samples = item
    return key, [first_fall(samples, p) for p in GRID], impact_index(samples)


# ---------------------------------------------------------------------------------------------
# Scoring and cross-validation.


class Outcomes:
    """first-FALL index per (trial, grid point), plus impact indices, from one pass over data."""

    def __init__(self, rows: list[tuple[Key, list[int], int]]) -> None:
        self.keys = [r[0] for r in rows]
        self.hits = {r[0]: r[1] for r in rows}
        self.impact = {r[0]: r[2] for r in rows}

    def rates(self, keys: list[Key], g: int) -> tuple[float, float, int, int]:
        falls = [k for k in keys if k[0].startswith("F")]
        adls = [k for k in keys if k[0].startswith("D")]
        tp = sum(self.hits[k][g] >= 0 for k in falls)
        fp = sum(self.hits[k][g] >= 0 for k in adls)
        sens = tp / len(falls) if falls else float("nan")
        spec = 1 - fp / len(adls) if adls else float("nan")
        return sens, spec, len(falls), len(adls)


def choose(out: Outcomes, keys: list[Key]) -> int:
    """Grid index whose worse margin to the two targets (sensitivity, specificity) is largest.

    Maximising sensitivity subject to training specificity >= 99 % picks points right on the
    constraint, which then miss it on the held-out subject; balancing the margins does not.
    Ties go to the higher specificity, then to the higher impact threshold.
    """
    scored = []
    for g in range(len(GRID)):
        sens, spec, n_falls, n_adls = out.rates(keys, g)
        if not n_falls or not n_adls:
            return GRID.index(_firmware_defaults())  # nothing to balance: keep the defaults
        margin = min(sens - TARGET_SENSITIVITY, spec - TARGET_SPECIFICITY)
        scored.append((round(margin, 9), spec, GRID[g]["impact_mg"], g))
    return max(scored)[-1]


def cross_validate(out: Outcomes) -> tuple[dict[Key, int], dict[str, int]]:
    """Leave-one-subject-out: the grid point used for each trial, chosen without its subject."""
    subjects = sorted({k[1] for k in out.keys})
    chosen: dict[str, int] = {}
    used: dict[Key, int] = {}
    for s in subjects:
        train = [k for k in out.keys if k[1] != s]
        g = choose(out, train) if train else GRID.index(_firmware_defaults())
        chosen[s] = g
        for k in out.keys:
            if k[1] == s:
                used[k] = g
    return used, chosen


def _firmware_defaults() -> dict[str, int]:
    return {
        "impact_mg": fd.IMPACT_MG,
        "angle_deg": fd.ANGLE_DEG,
        "lying_deg": fd.LYING_DEG,
        "flat_deg": fd.FLAT_DEG,
    }


def _pct(num: int, den: int) -> str:
    return f"{100 * num / den:6.1f} %" if den else "     - "


def report(out: Outcomes, used: dict[Key, int]) -> dict[str, Any]:
    def detected(k: Key) -> bool:
        return out.hits[k][used[k]] >= 0

    falls = [k for k in out.keys if k[0].startswith("F")]
    adls = [k for k in out.keys if k[0].startswith("D")]
    print("\nHeld-out results (leave-one-subject-out), per trial:")
    print(f"  {'group':<22}{'trials':>7}{'alarm':>7}{'rate':>10}")
    for name, ks in (
        ("falls (sensitivity)", falls),
        ("  young", [k for k in falls if k[1].startswith("SA")]),
        ("  elderly", [k for k in falls if k[1].startswith("SE")]),
        ("ADLs (false alarms)", adls),
        ("  young", [k for k in adls if k[1].startswith("SA")]),
        ("  elderly", [k for k in adls if k[1].startswith("SE")]),
    ):
        n = sum(detected(k) for k in ks)
        print(f"  {name:<22}{len(ks):>7}{n:>7}{_pct(n, len(ks)):>10}")

    print("\nPer activity code (alarm rate: want 100 % for F, 0 % for D):")
    by_code: dict[str, list[Key]] = defaultdict(list)
    for k in out.keys:
        by_code[k[0]].append(k)
    for code in sorted(by_code):
        ks = by_code[code]
        n = sum(detected(k) for k in ks)
        print(f"  {code}  trials {len(ks):>4}  alarms {n:>4}  {_pct(n, len(ks))}")

    delays = sorted((out.hits[k][used[k]] - out.impact[k]) / RATE_HZ for k in falls if detected(k))
    tp = sum(detected(k) for k in falls)
    fp = sum(detected(k) for k in adls)
    eld = [k for k in adls if k[1].startswith("SE")]
    eld_fp = sum(detected(k) for k in eld)
    if delays:
        q = (
            statistics.quantiles(delays, n=20, method="inclusive")
            if len(delays) > 1
            else [delays[0]] * 19
        )
        print(
            f"\nDelay FALL - impact (s): median {statistics.median(delays):.2f}, "
            f"p5 {q[0]:.2f}, p95 {q[18]:.2f}, max {delays[-1]:.2f}; "
            f"{sum(d < 0 for d in delays)} detections before the trial's peak impact"
        )
    return {
        "sensitivity": round(tp / len(falls), 4) if falls else None,
        "specificity": round(1 - fp / len(adls), 4) if adls else None,
        "elderly_specificity": round(1 - eld_fp / len(eld), 4) if eld else None,
        "n_falls": len(falls),
        "n_adls": len(adls),
        "median_delay_s": round(statistics.median(delays), 2) if delays else None,
        "subjects": sorted({k[1] for k in out.keys}),
    }


# ---------------------------------------------------------------------------------------------
# CPU cost per sample, on CPython and on the MicroPython WebAssembly port.


def cpu_cpython(trials: list[list[tuple[int, int, int]]]) -> float:
    n = sum(len(s) for s in trials)
    t0 = time.perf_counter_ns()
    for samples in trials:
        step = fd.FallDetector(RATE_HZ).step
        for x, y, z in samples:
            step(x, y, z)
    return (time.perf_counter_ns() - t0) / 1000 / n


_MPY_TIMER = """
import time, struct
from firmware import fall_detector as _fd
def _vigil_time(packed):
    samples = [struct.unpack_from('<hhh', packed, i) for i in range(0, len(packed), 6)]
    step = _fd.FallDetector(50).step
    t0 = time.ticks_us()
    for s in samples:
        step(s[0], s[1], s[2])
    return time.ticks_diff(time.ticks_us(), t0)
"""


def cpu_micropython(trials: list[list[tuple[int, int, int]]]) -> float | None:
    try:
        from devstack.interpreters import MicroPython
    except ImportError:
        return None
    try:
        mp = MicroPython()
    except Exception as e:  # no Node.js / npm port: say so, do not invent a figure
        print(f"MicroPython timing skipped: {e}")
        return None
    try:
        mp.exec(_MPY_TIMER)
        total_us = n = 0
        for samples in trials:
            packed = b"".join(struct.pack("<hhh", *s) for s in samples)
            mp.exec(f"_S = bytes.fromhex({packed.hex()!r})")
            total_us += mp.eval("_vigil_time(_S)")
            n += len(samples)
        return total_us / n
    finally:
        mp.close()


# ---------------------------------------------------------------------------------------------
# Plot: the impact-threshold sweep for the deployed angle/lying settings, and every grid point.


def plot(out: Outcomes, deployed: int, cv: tuple[float, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = out.keys
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    dep = GRID[deployed]
    for flat in FLAT_GRID:
        line = [
            g
            for g, p in enumerate(GRID)
            if p["flat_deg"] == flat and p["lying_deg"] == dep["lying_deg"]
        ]
        ss = [out.rates(keys, g) for g in line]
        ax1.plot(
            [1 - s[1] for s in ss],
            [s[0] for s in ss],
            "o-",
            ms=3,
            label=f"flat >= {flat} deg" if flat else "no lying-after test",
        )
    allp = [out.rates(keys, g) for g in range(len(GRID))]
    ax1.scatter(
        [1 - s[1] for s in allp],
        [s[0] for s in allp],
        s=8,
        c="grey",
        alpha=0.5,
        label="all grid points",
    )
    ax1.scatter(
        [1 - cv[1]], [cv[0]], marker="*", s=160, c="red", zorder=5, label="held-out (LOSO) result"
    )
    ax1.set_xlabel("1 - specificity (ADL trials with a FALL)")
    ax1.set_ylabel("sensitivity (fall trials with a FALL)")
    ax1.set_title("ROC over the threshold grid (all subjects)")
    ax1.grid(True, alpha=0.3)
    ax1.legend(fontsize=7, loc="lower right")

    line = [
        g
        for g, p in enumerate(GRID)
        if p["flat_deg"] == dep["flat_deg"] and p["lying_deg"] == dep["lying_deg"]
    ]
    ss = [out.rates(keys, g) for g in line]
    xs = [GRID[g]["impact_mg"] for g in line]
    ax2.plot(xs, [s[0] for s in ss], "o-", label="sensitivity")
    ax2.plot(xs, [s[1] for s in ss], "s-", label="specificity")
    ax2.axvline(dep["impact_mg"], color="red", ls="--", label="deployed (chosen on all subjects)")
    ax2.axhline(0.98, color="grey", ls=":", lw=1)
    ax2.axhline(0.99, color="grey", ls=":", lw=1)
    ax2.set_xlabel("impact threshold (mg)")
    ax2.set_title(f"Impact sweep (flat {dep['flat_deg']} deg, lying {dep['lying_deg']} deg)")
    ax2.grid(True, alpha=0.3)
    ax2.legend(fontsize=8)
    fig.suptitle("Vigil fall detector on SisFall (Sucerquia et al. 2017), per trial")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = sisfall.default_data_dir(ROOT)
    ap.add_argument(
        "--data",
        type=Path,
        default=Path(default) if default else None,
        help="folder in SisFall layout (default: <repo>/../shared/data/sisfall)",
    )
    ap.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="PNG to write")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--no-micropython", action="store_true", help="skip the WebAssembly timing")
    args = ap.parse_args(argv)

    if args.data is None:
        ap.error("no SisFall folder found at <repo>/../shared/data/sisfall: pass --data DIR")
    t0 = time.monotonic()
    data = load_all(args.data, args.jobs)
    subjects = sorted({k[1] for k in data})
    print(
        f"SisFall folder {args.data}: {len(data)} trials, {len(subjects)} subjects "
        f"({', '.join(subjects)}); {sum(len(s) for s in data.values())} samples at "
        f"{RATE_HZ} Hz; loaded in {time.monotonic() - t0:.1f} s"
    )

    t1 = time.monotonic()
    items = sorted(data.items())
    with multiprocessing.Pool(args.jobs) as pool:
        rows = pool.map(_run_trial, items, chunksize=4)
    out = Outcomes(rows)
    print(
        f"{len(GRID)} threshold settings x {len(rows)} trials run through "
        f"firmware.fall_detector in {time.monotonic() - t1:.1f} s"
    )

    used, chosen = cross_validate(out)
    print("\nThresholds chosen without each subject (leave-one-subject-out):")
    for s, g in chosen.items():
        print(f"  {s}: {GRID[g]}")
    result = report(out, used)

    deployed = choose(out, out.keys)
    sens, spec, nf, na = out.rates(out.keys, deployed)
    fw = _firmware_defaults()
    print(
        f"\nChosen on all subjects (deploy these): {GRID[deployed]}; in-sample sensitivity "
        f"{sens:.3f}, specificity {spec:.3f} (optimistic: tuned on the same subjects)"
    )
    if fw != GRID[deployed]:
        print(f"NOTE: firmware defaults {fw} differ from this choice")
    else:
        print("Firmware defaults match this choice.")

    by_subject = defaultdict(list)
    for k in out.keys:
        by_subject[k[1]].append(k)
    fall_trial = next((s for k, s in items if k[0].startswith("F")), None)
    adl_trial = next((s for k, s in items if k[0] in ("D01", "D02")), items[0][1])
    timing = [s for s in (fall_trial, adl_trial) if s]
    cpy = cpu_cpython([s for _, s in items])
    print(
        f"\nCPU per sample, CPython {sys.version.split()[0]}: {cpy:.2f} us "
        f"(all {sum(len(s) for _, s in items)} samples, firmware defaults)"
    )
    if not args.no_micropython:
        mpy = cpu_micropython(timing)
        if mpy is not None:
            print(
                f"CPU per sample, MicroPython WebAssembly port (time.ticks_us): {mpy:.2f} us "
                f"over {sum(len(s) for s in timing)} samples (a fall trial and an ADL trial); "
                f"budget at {RATE_HZ} Hz: {1_000_000 // RATE_HZ} us"
            )

    plot(out, deployed, (result["sensitivity"] or 0.0, result["specificity"] or 0.0), args.plot)
    print(f"Plot: {args.plot}")
    print(f"Total {time.monotonic() - t0:.1f} s")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
