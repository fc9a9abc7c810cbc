"""Evaluate the fob's fall detector (firmware/fall_detector.py + its model) on SisFall.

    .venv/bin/python -m bench.fall_eval [--data DIR] [--plot PNG] [--jobs N] [--no-micropython]

Nested, subject-wise evaluation. For each subject (outer leave-one-subject-out):
  1. the number of trees and the cut are chosen by 4-fold cross-validation over the OTHER
     subjects (bench/fall_train.choose);
  2. the model is trained on the other subjects and exported to the integer tables the fob runs;
  3. that subject's trials are scored with the exported tables, on the features the firmware's
     detector computes: as recorded at 50 Hz, with a +-2 g sensor (clipped, 50 Hz) and at 25 Hz.
Nothing that scores a subject was trained or tuned on it. The feature list and the model family
were designed on the same 19 subjects, which nesting cannot undo (docs/fall-detection.md).

Per trial, as in Sucerquia et al. 2017 (Sensors 17(1):198): a fall trial is detected if any
candidate in it is a FALL; a daily-activity trial is a false alarm if any is.
Impact = the trial's sample of largest magnitude; delay = FALL time minus impact time.

The shipped model (firmware/fall_model.py, from bench/fall_train.py on all subjects) is then
checked for orientation independence: every trial is replayed through `FallDetector(50)` as a
fob mounted at a random proper rotation, and its decision compared with the unrotated replay.

Last line: JSON {"sensitivity", "specificity", "elderly_sensitivity", "elderly_specificity",
"n_falls", "n_adls", "median_delay_s", "subjects", "rotation_agreement", "sensitivity_2g",
"specificity_2g", "sensitivity_25hz", "specificity_25hz", "detector_heap_bytes" (model, code
and one instance, as .mpy), "detector_state_bytes" (the instance), "step_us_mpy",
"cpu_pct_esp32_est"}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import fall_data
from bench import fall_train as train
from firmware import fall_detector as fd
from hardware import sisfall
from hardware.sim import fall_replay

ROOT = fall_data.ROOT
DEFAULT_PLOT = ROOT / "docs" / "fall-detection-sweep.png"
RATE_HZ = 50
ESP32_SLOWDOWN = 30  # bench/firmware_cost.py's assumption: ESP32 MicroPython vs the wasm port
Key = fall_data.Key

# Scored variants: (name, rate, rotated, clip). The 2 g one is clipped in the recorded
# orientation; training saw 2 g only on rotated trials, so it is not the same data.
EVAL_VARIANTS: tuple[train.Variant, ...] = (
    ("as_recorded_50hz", 50, False, None),
    ("clipped_2g_50hz", 50, False, 2000),
    ("as_recorded_25hz", 25, False, None),
)

_STATE: dict[str, Any] = {}


FoldResult = tuple[
    str, int, int, float, dict[str, dict[Key, tuple[int, int]]], dict[str, dict[Key, int]]
]


def _outer_fold(held: str) -> FoldResult:
    rows, impact, keys = _STATE["rows"], _STATE["impact"], _STATE["keys"]
    others = [s for s in _STATE["subjects"] if s != held]
    trees, cut, m = train.choose(rows, impact, [k for k in keys if k[1] != held], others)
    x, y = train.training_set(rows, train.TRAIN_VARIANTS, impact, set(others))
    model = train.export(train.fit(x, y, trees), cut)
    out: dict[str, dict[Key, tuple[int, int]]] = {}
    margins: dict[str, dict[Key, int]] = {}
    for v in EVAL_VARIANTS:
        held_rows = [r for r in _STATE["eval_rows"][v[0]] if r[0][1] == held]
        out[v[0]] = first_fall(model, held_rows)
        margins[v[0]] = {k: s - cut for k, s in train.trial_scores(model, held_rows).items()}
    return held, trees, cut, m, out, margins


def first_fall(model: Any, rows: list[train.Row]) -> dict[Key, tuple[int, int]]:
    """{trial: (index of its first FALL, score)} for trials with a FALL."""
    out: dict[Key, tuple[int, int]] = {}
    for r in rows:
        if r[0] not in out and fd.is_fall(r[4], model):
            out[r[0]] = (r[2], fd.score(r[4], model))
    return out


def _pct(num: int, den: int) -> str:
    return f"{100 * num / den:6.1f} %" if den else "     - "


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def report(
    keys: list[Key],
    fired: dict[Key, tuple[int, int]],
    impact: dict[tuple[int, Key], int],
    rate: int,
    title: str,
    detail: bool,
) -> dict[str, Any]:
    falls = [k for k in keys if k[0].startswith("F")]
    adls = [k for k in keys if k[0].startswith("D")]
    groups = (
        ("falls (sensitivity)", falls),
        ("  young", [k for k in falls if k[1].startswith("SA")]),
        ("  older", [k for k in falls if k[1].startswith("SE")]),
        ("ADLs (false alarms)", adls),
        ("  young", [k for k in adls if k[1].startswith("SA")]),
        ("  older", [k for k in adls if k[1].startswith("SE")]),
    )
    print(f"\n{title}, per trial:")
    print(f"  {'group':<22}{'trials':>7}{'FALL':>7}{'rate':>10}")
    for name, ks in groups:
        n = sum(k in fired for k in ks)
        print(f"  {name:<22}{len(ks):>7}{n:>7}{_pct(n, len(ks)):>10}")
    delays = sorted((fired[k][0] - impact[(rate, k)]) / rate for k in falls if k in fired)
    if detail:
        print("\n  Per activity code (want 100 % for F, 0 % for D):")
        by_code: dict[str, list[Key]] = defaultdict(list)
        for k in keys:
            by_code[k[0]].append(k)
        for code in sorted(by_code):
            ks = by_code[code]
            n = sum(k in fired for k in ks)
            print(f"    {code}  trials {len(ks):>4}  FALL {n:>4}  {_pct(n, len(ks))}")
        if delays:
            q = statistics.quantiles(delays, n=20, method="inclusive") if len(delays) > 1 else []
            print(
                f"\n  Delay FALL - impact (s): median {statistics.median(delays):.2f}"
                + (f", p5 {q[0]:.2f}, p95 {q[18]:.2f}" if q else "")
                + f", max {delays[-1]:.2f}; {sum(d < 0 for d in delays)} before the impact"
            )
    old_f = groups[2][1]
    old_a = groups[5][1]
    return {
        "sensitivity": _rate(sum(k in fired for k in falls), len(falls)),
        "specificity": _rate(sum(k not in fired for k in adls), len(adls)),
        "elderly_sensitivity": _rate(sum(k in fired for k in old_f), len(old_f)),
        "elderly_specificity": _rate(sum(k not in fired for k in old_a), len(old_a)),
        "n_falls": len(falls),
        "n_adls": len(adls),
        "median_delay_s": round(statistics.median(delays), 2) if delays else None,
    }


# ---------------------------------------------------------------------------------------------
# The shipped model through the real detector: orientation, and cost on MicroPython.


def _decisions(job: tuple[Key, fall_data.Samples, str | None]) -> tuple[Key, bool]:
    key, samples, seed = job
    if seed is not None:
        samples = fall_data.variant(samples, seed)
    return key, any(e == fd.FALL for _i, e in fall_replay.feed(samples, RATE_HZ))


def rotation_agreement(trials: dict[Key, fall_data.Samples], jobs: int) -> tuple[float, int, int]:
    """Share of trials whose FALL decision is unchanged by a random mounting rotation."""
    items = sorted(trials.items())
    with multiprocessing.Pool(jobs) as pool:
        plain = dict(pool.map(_decisions, [(k, s, None) for k, s in items], chunksize=16))
        turned = dict(pool.map(_decisions, [(k, s, f"mount-{k}") for k, s in items], chunksize=16))
    same = sum(plain[k] == turned[k] for k in plain)
    return same / len(plain), len(plain) - same, sum(plain.values())


_MPY_COST = """
import gc, time, struct
from protocol import const  # shared with the rest of the firmware: not the detector's
gc.collect()
_a0 = gc.mem_alloc()
from firmware import fall_model
gc.collect()
_a1 = gc.mem_alloc()
from firmware import fall_detector as _fd
gc.collect()
_a2 = gc.mem_alloc()
_d = _fd.FallDetector(50)
gc.collect()
_heap = [_a1 - _a0, _a2 - _a1, gc.mem_alloc() - _a2]
def _vigil_time(packed):
    step = _fd.FallDetector(50).step
    n = len(packed) // 6
    t0 = time.ticks_us()
    for i in range(n):
        x, y, z = struct.unpack_from('<hhh', packed, 6 * i)
        step(x, y, z)
    t1 = time.ticks_us()
    t2 = time.ticks_us()
    for i in range(n):
        x, y, z = struct.unpack_from('<hhh', packed, 6 * i)
    t3 = time.ticks_us()
    return time.ticks_diff(t1, t0) - time.ticks_diff(t3, t2), n
"""


def micropython_cost(trials: list[fall_data.Samples]) -> tuple[list[int], float] | None:
    """([model, detector code, one FallDetector(50)] heap bytes, us per step) on the wasm port.

    The modules are loaded as the .mpy files `vigil firmware build` ships, so their bytecode and
    the model's tables are on the heap; an image built with firmware/manifest.py keeps both in
    flash, leaving the instance (and a module dict each).
    """
    import struct

    from bench.firmware_cost import deploy_mpy
    from devstack.interpreters import MicroPython

    try:
        mp = MicroPython()
    except Exception as e:  # no Node.js / npm port: say so, do not invent a figure
        print(f"MicroPython figures skipped: {e}")
        return None
    try:
        deploy_mpy(mp)
        mp.exec("import sys\nsys.path[0:0] = ['/mpy']")
        mp.exec(_MPY_COST)
        heap = mp.eval("_heap")
        total_us = n = 0
        for samples in trials:
            packed = b"".join(struct.pack("<hhh", *s) for s in samples)
            mp.exec(f"_S = bytes.fromhex({packed.hex()!r})")
            us, k = mp.eval("_vigil_time(_S)")
            total_us += us
            n += k
        return heap, total_us / n
    finally:
        mp.close()


# ---------------------------------------------------------------------------------------------


def plot(
    keys: list[Key],
    scores: dict[str, dict[Key, int]],
    points: dict[str, tuple[float, float]],
    per_code: dict[str, float],
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    falls = [k for k in keys if k[0].startswith("F")]
    adls = [k for k in keys if k[0].startswith("D")]
    for name, sc in scores.items():
        low = -(1 << 30)
        cuts = sorted({v for v in sc.values()} | {low})
        xs, ys = [], []
        for c in cuts[:: max(1, len(cuts) // 300)] + [cuts[-1]]:
            ys.append(sum(sc.get(k, low) > c for k in falls) / len(falls))
            xs.append(sum(sc.get(k, low) > c for k in adls) / len(adls))
        (line,) = ax1.plot(xs, ys, lw=1.2, label=name)
        # the operating point of each fold is margin 0: "> 0" is a FALL
        sens, spec = points[name]
        ax1.scatter([1 - spec], [sens], marker="*", s=140, color=line.get_color(), zorder=5)
    ax1.axhline(train.TARGET_SENSITIVITY, color="grey", ls=":", lw=1)
    ax1.axvline(1 - train.TARGET_SPECIFICITY, color="grey", ls=":", lw=1)
    ax1.set_xlim(0, 0.06)
    ax1.set_ylim(0.9, 1.0)
    ax1.set_xlabel("1 - specificity (ADL trials with a FALL)")
    ax1.set_ylabel("sensitivity (fall trials with a FALL)")
    ax1.set_title("Held-out ROC (score minus each fold's cut); stars: operating points")
    ax1.grid(True, alpha=0.3)
    ax1.legend(fontsize=8, loc="lower right")
    codes = sorted(per_code)
    ax2.bar(
        codes,
        [per_code[c] for c in codes],
        color=["tab:red" if c.startswith("F") else "tab:blue" for c in codes],
    )
    ax2.set_ylabel("trials with a FALL (held-out, 50 Hz)")
    ax2.set_title("Per activity code: falls (red) want 1, daily activities (blue) want 0")
    ax2.tick_params(axis="x", labelrotation=90, labelsize=7)
    fig.suptitle("Vigil fall detector on SisFall (Sucerquia et al. 2017), nested subject-wise")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = sisfall.default_data_dir(ROOT)
    ap.add_argument("--data", type=Path, default=Path(default) if default else None)
    ap.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="PNG to write")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--no-micropython", action="store_true", help="skip the MicroPython figures")
    args = ap.parse_args(argv)
    if args.data is None:
        ap.error("no SisFall folder found at <repo>/../shared/data/sisfall: pass --data DIR")

    t0 = time.monotonic()
    trials = fall_data.load(args.data, (50, 25), args.jobs)
    keys = sorted(trials[50])
    subjects = sorted({k[1] for k in keys})
    print(
        f"SisFall folder {args.data}: {len(keys)} trials, {len(subjects)} subjects "
        f"({', '.join(subjects)}); loaded in {time.monotonic() - t0:.1f} s"
    )
    t1 = time.monotonic()
    rows = train.collect(trials, train.TRAIN_VARIANTS, args.jobs)
    eval_rows = train.collect(trials, EVAL_VARIANTS[1:2], args.jobs)
    eval_rows.update({v[0]: rows[v[0]] for v in EVAL_VARIANTS if v[0] in rows})
    impact = train.impacts(trials)
    print(
        f"Candidates from firmware.fall_detector in {time.monotonic() - t1:.1f} s: "
        + ", ".join(f"{n} {len(r)}" for n, r in sorted(rows.items()))
    )
    _STATE.update(rows=rows, eval_rows=eval_rows, impact=impact, keys=keys, subjects=subjects)

    t2 = time.monotonic()
    with multiprocessing.Pool(args.jobs) as pool:
        folds = pool.map(_outer_fold, subjects, chunksize=1)
    print(
        f"\nNested cross-validation in {time.monotonic() - t2:.1f} s; chosen without each subject:"
    )
    fired: dict[str, dict[Key, tuple[int, int]]] = {v[0]: {} for v in EVAL_VARIANTS}
    scores: dict[str, dict[Key, int]] = {v[0]: {} for v in EVAL_VARIANTS}
    for held, trees, cut, m, out, margins in folds:
        print(f"  {held}: {trees} trees, cut {cut} (inner CV worse margin {m:+.4f})")
        for name, got in out.items():
            fired[name].update(got)
            scores[name].update(margins[name])

    results = {}
    for v in EVAL_VARIANTS:
        results[v[0]] = report(
            keys, fired[v[0]], impact, v[1], f"Held-out, {v[0]}", detail=v is EVAL_VARIANTS[0]
        )
    main_result = results["as_recorded_50hz"]

    t3 = time.monotonic()
    agree, changed, shipped_falls = rotation_agreement(trials[50], args.jobs)
    print(
        f"\nShipped model (firmware/fall_model.py) through FallDetector(50), every trial again "
        f"from a fob at a random mounting rotation: decision unchanged on {100 * agree:.2f} % "
        f"({changed} changed; {time.monotonic() - t3:.1f} s)"
    )
    print(
        f"  shipped model, in-sample (trained on these trials): FALL in {shipped_falls} of "
        f"{len(keys)} trials"
    )

    cost = None
    if not args.no_micropython:
        # A fall and a jogging trial: jogging makes the most candidates of any activity.
        timing = [trials[50][next(k for k in keys if k[0] == c)] for c in ("F01", "D03")]
        cost = micropython_cost(timing)
    step_us = cpu_pct = heap = state = None
    if cost is not None:
        parts, step_us = cost
        heap, state = sum(parts), parts[2]
        cpu_pct = step_us * ESP32_SLOWDOWN * RATE_HZ / 1e6 * 100
        print(
            f"\nMicroPython (WebAssembly port, 32-bit like the ESP32, modules as deployed .mpy):"
            f"\n  heap: model tables {parts[0]} + detector code {parts[1]} + one "
            f"FallDetector(50) {parts[2]} = {heap} bytes (target <= 8192; frozen into the image "
            f"by firmware/manifest.py, code and tables live in flash)"
            f"\n  {step_us:.2f} us per step over a fall trial and a jogging trial; ESP32 estimate "
            f"{cpu_pct:.2f} % CPU at 50 Hz (assumes {ESP32_SLOWDOWN}x slower; target <= 5 %)"
        )

    by_code: dict[str, list[Key]] = defaultdict(list)
    for k in keys:
        by_code[k[0]].append(k)
    per_code = {
        c: sum(k in fired["as_recorded_50hz"] for k in ks) / len(ks) for c, ks in by_code.items()
    }
    points = {n: (r["sensitivity"] or 0.0, r["specificity"] or 0.0) for n, r in results.items()}
    plot(keys, scores, points, per_code, args.plot)
    print(f"Plot: {args.plot}\nTotal {time.monotonic() - t0:.1f} s")
    summary: dict[str, Any] = dict(main_result)
    summary.update(
        subjects=subjects,
        rotation_agreement=round(agree, 4),
        sensitivity_2g=results["clipped_2g_50hz"]["sensitivity"],
        specificity_2g=results["clipped_2g_50hz"]["specificity"],
        sensitivity_25hz=results["as_recorded_25hz"]["sensitivity"],
        specificity_25hz=results["as_recorded_25hz"]["specificity"],
        detector_heap_bytes=heap,
        detector_state_bytes=state,
        step_us_mpy=round(step_us, 2) if step_us is not None else None,
        cpu_pct_esp32_est=round(cpu_pct, 3) if cpu_pct is not None else None,
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
