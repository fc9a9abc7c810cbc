"""Train the fob's fall model on SisFall and write it as firmware/fall_model.py.

    .venv/bin/python -m bench.fall_train [--data DIR] [--out firmware/fall_model.py]

The model scores the features the firmware's detector computes at each candidate
(firmware/fall_detector.py). It is scikit-learn's HistGradientBoostingClassifier with depth-3
trees and monotone constraints (`MONOTONE`), exported to integer tables: thresholds are
floored (features are integers, so `x <= t` and `x <= floor(t)` agree exactly) and leaf
values are scaled by 250 and rounded to a signed byte. The exported tables, not the
scikit-learn model, are what the fob runs and what every figure is scored with.
(m2cgen writes float Python; emlearn writes C for a native module. Neither gives integer
MicroPython, and the table walk is twenty lines in the detector.)

Training data: every candidate the detector scores (those its walking-on rule ends are never
recorded, so the trees never see them) of every trial, in several versions of the trial
(`TRAIN_VARIANTS`): as recorded at 50 and 25 Hz, and from a fob mounted at a random rotation
with a +-2 g sensor at 50 and 25 Hz. Labels: in a fall trial, candidates whose peak is within
1 s of the trial's largest magnitude are falls; its other candidates are left out (they may be
part of the fall); every candidate of a daily-activity trial is not a fall.

The cut (score above which a candidate is a FALL) and the number of trees are chosen by
cross-validation over subjects (`choose`): never on the trials they are scored on.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import textwrap
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench import fall_data
from firmware import fall_detector as fd
from hardware import sisfall

ROOT = fall_data.ROOT
MODEL_PATH = ROOT / "firmware" / "fall_model.py"
DEPTH = 3
SCALE = 250  # leaf values, bias and cut are in 1/250 of a log-odds unit: leaves fit a byte
TARGET_SENSITIVITY = 0.98
TARGET_SPECIFICITY = 0.99
# Tree counts tried; the learning rate and depth are fixed (see docs/fall-detection.md). Capped
# at 60 by the detector's 8 KiB heap budget: a tree is 29 bytes of tables.
TREE_GRID = (40, 60)
LEARNING_RATE = 0.1
LABEL_WINDOW_S = 1.0

# (name, rate_hz, rotated, clip_mg)
Variant = tuple[str, int, bool, int | None]
TRAIN_VARIANTS: tuple[Variant, ...] = (
    ("as_recorded_50hz", 50, False, None),
    ("as_recorded_25hz", 25, False, None),
    ("rotated_2g_50hz", 50, True, 2000),
    ("rotated_2g_25hz", 25, True, 2000),
)

Key = fall_data.Key
Row = tuple[Key, str, int, int, tuple[int, ...]]  # key, variant, judged_at, peak_at, features


def variant_samples(
    trials: dict[int, dict[Key, fall_data.Samples]], key: Key, v: Variant
) -> fall_data.Samples:
    name, rate, rotated, clip = v
    s = trials[rate][key]
    if rotated:
        return fall_data.variant(s, f"{key}-{name}", clip)
    return sisfall.clipped(s, clip) if clip else s


def _candidates_job(job: tuple[Key, Variant, fall_data.Samples]) -> list[Row]:
    key, v, samples = job
    return [(key, v[0], j, p, f) for j, p, f in fall_data.candidates(samples, v[1])]


def collect(
    trials: dict[int, dict[Key, fall_data.Samples]], variants: tuple[Variant, ...], jobs: int = 2
) -> dict[str, list[Row]]:
    """{variant name: rows} for every trial, computed by the firmware's detector."""
    work = [(k, v, variant_samples(trials, k, v)) for v in variants for k in trials[v[1]]]
    with multiprocessing.Pool(jobs) as pool:
        got = pool.map(_candidates_job, work, chunksize=16)
    out: dict[str, list[Row]] = defaultdict(list)
    for rows in got:
        for r in rows:
            out[r[1]].append(r)
    return out


def impacts(trials: dict[int, dict[Key, fall_data.Samples]]) -> dict[tuple[int, Key], int]:
    """Impact sample of every fall trial at every rate (rotation does not move it)."""
    return {
        (rate, k): fall_data.impact_index(s)
        for rate, by_key in trials.items()
        for k, s in by_key.items()
        if k[0].startswith("F")
    }


def label(row: Row, rate: int, impact: dict[tuple[int, Key], int]) -> int:
    """1 fall, 0 not a fall, -1 left out of training."""
    key = row[0]
    if not key[0].startswith("F"):
        return 0
    return 1 if abs(row[3] - impact[(rate, key)]) <= LABEL_WINDOW_S * rate else -1


def training_set(
    rows: dict[str, list[Row]],
    variants: tuple[Variant, ...],
    impact: dict[tuple[int, Key], int],
    subjects: set[str],
) -> tuple[list[tuple[int, ...]], list[int]]:
    x: list[tuple[int, ...]] = []
    y: list[int] = []
    for v in variants:
        for r in rows[v[0]]:
            if r[0][1] not in subjects:
                continue
            lab = label(r, v[1], impact)
            if lab >= 0:
                x.append(r[4])
                y.append(lab)
    return x, y


# The detector's features, in its order (firmware/fall_detector.py's _TABLE says how each is
# computed; feature 0 is the candidate's peak).
FEATURES = (
    "peak_mg",
    "fall_min_mg",
    "fall_mean_mg",
    "pre_mad_mg",
    "pre_max_dev_mg",
    "post_mad_mg",
    "post_max_dev_mg",
    "late_mad_mg",
    "impact_dev_mg",
    "turn_cos",
    "early_turn_cos",
    "pre_turn_cos",
    "post_turn_cos",
    "jerk_mg",
    "high_n",
    "quick_turn_cos",
    "fall_mad_mg",
    "low_n",
)

# Monotone constraints from what a fall is, so the trees cannot learn the opposite from a few
# odd trials: a harder peak, more turn, stiller afterwards and a steady posture afterwards never
# make a candidate less of a fall (+1 rising with the fall score, -1 falling, 0 free).
MONOTONE = {
    "peak_mg": 1,
    "post_mad_mg": -1,
    "post_max_dev_mg": -1,
    "late_mad_mg": -1,
    "turn_cos": -1,
    "post_turn_cos": 1,
}


def fit(x: list[tuple[int, ...]], y: list[int], trees: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        max_iter=trees,
        max_depth=DEPTH,
        max_leaf_nodes=1 << DEPTH,
        learning_rate=LEARNING_RATE,
        min_samples_leaf=20,
        l2_regularization=1.0,
        monotonic_cst=[MONOTONE.get(name, 0) for name in FEATURES],
        early_stopping=False,
        random_state=0,
    )
    model.fit(x, y)
    return model


def export(model: Any, cut: int = 0, trees: int | None = None) -> SimpleNamespace:
    """The model (its first `trees` stages) as the integer tables fall_detector.score() walks.

    Reads scikit-learn's fitted trees (`_predictors`, whose `nodes` hold feature_idx,
    num_threshold, left, right, is_leaf and value; pinned version, and
    host_tests/firmware/test_fall_model.py checks the export against decision_function).
    """
    inner = (1 << DEPTH) - 1
    features = bytearray()
    thresholds = bytearray()
    leaves = bytearray()
    stages = [p[0].nodes for p in model._predictors[: trees or len(model._predictors)]]
    for nodes in stages:
        feat = [0] * inner
        thr = [32767] * inner
        leaf = [0] * (inner + 1)

        def fill(
            node: int,
            pos: int,
            depth: int,
            nodes: Any = nodes,
            feat: list[int] = feat,
            thr: list[int] = thr,
            leaf: list[int] = leaf,
        ) -> None:
            n = nodes[node]
            if depth == DEPTH or n["is_leaf"]:
                if depth < DEPTH:  # an early leaf: both sides carry it down
                    fill(node, 2 * pos + 1, depth + 1)
                    fill(node, 2 * pos + 2, depth + 1)
                    return
                leaf[pos - inner] = max(-128, min(127, round(float(n["value"]) * SCALE)))
                return
            feat[pos] = int(n["feature_idx"])
            thr[pos] = max(-32768, min(32767, math.floor(float(n["num_threshold"]))))
            fill(int(n["left"]), 2 * pos + 1, depth + 1)
            fill(int(n["right"]), 2 * pos + 2, depth + 1)

        fill(0, 0, 0)
        features += bytes(feat)
        for v in thr:
            thresholds += (v & 0xFFFF).to_bytes(2, "little")
        leaves += bytes(v & 0xFF for v in leaf)
    return SimpleNamespace(
        DEPTH=DEPTH,
        TREES=len(stages),
        BIAS=round(float(model._baseline_prediction.ravel()[0]) * SCALE),
        CUT=cut,
        FEATURE=bytes(features),
        THRESHOLD=bytes(thresholds),
        LEAF=bytes(leaves),
    )


def trial_scores(model: SimpleNamespace, rows: list[Row]) -> dict[Key, int]:
    """Highest score of any candidate per trial (trials without a candidate are absent)."""
    best: dict[Key, int] = {}
    for r in rows:
        s = fd.score(r[4], model)
        if s > best.get(r[0], -(1 << 30)):
            best[r[0]] = s
    return best


def rates_at(best: dict[Key, int], keys: list[Key], cut: int) -> tuple[float, float]:
    falls = [k for k in keys if k[0].startswith("F")]
    adls = [k for k in keys if not k[0].startswith("F")]
    sens = sum(best.get(k, -(1 << 30)) > cut for k in falls) / len(falls) if falls else 1.0
    spec = sum(best.get(k, -(1 << 30)) <= cut for k in adls) / len(adls) if adls else 1.0
    return sens, spec


def margin(sens: float, spec: float) -> float:
    return min(sens - TARGET_SENSITIVITY, spec - TARGET_SPECIFICITY)


def best_cut(best: dict[Key, int], keys: list[Key]) -> tuple[int, float]:
    """The cut with the largest worse margin to the two targets (ties: the middle one)."""
    values = sorted({v for v in best.values()})
    candidates = [values[0] - 1] + [(a + b) // 2 for a, b in zip(values, values[1:], strict=False)]
    scored = [(margin(*rates_at(best, keys, c)), c) for c in candidates]
    top = max(m for m, _c in scored)
    ties = [c for m, c in scored if m == top]
    return ties[len(ties) // 2], top


def choose(
    rows: dict[str, list[Row]],
    impact: dict[tuple[int, Key], int],
    keys: list[Key],
    subjects: list[str],
    folds: int = 4,
) -> tuple[int, int, float]:
    """(trees, cut, margin) chosen by `folds`-fold cross-validation over `subjects`.

    The cut is chosen on the as-recorded 50 Hz trials: it sets the operating point the product
    is specified at; the other variants are reported, not tuned for.
    """
    groups = [subjects[i::folds] for i in range(folds)]
    scored: dict[int, dict[Key, int]] = {t: {} for t in TREE_GRID}
    for held in groups:
        train = set(subjects) - set(held)
        x, y = training_set(rows, TRAIN_VARIANTS, impact, train)
        gb = fit(x, y, max(TREE_GRID))  # boosting is additive: smaller models are its prefixes
        held_rows = [r for r in rows[TRAIN_VARIANTS[0][0]] if r[0][1] in held]
        for trees in TREE_GRID:
            scored[trees].update(trial_scores(export(gb, trees=trees), held_rows))
    best = None
    for trees in TREE_GRID:
        cut, m = best_cut(scored[trees], keys)
        if best is None or m > best[2]:
            best = (trees, cut, m)
    assert best is not None
    return best


def write_model(model: SimpleNamespace, path: Path, note: str) -> None:
    def chunks(b: bytes) -> str:
        lines = [f"    {b[i : i + 20]!r}" for i in range(0, len(b), 20)]
        return "(\n" + "\n".join(lines) + "\n)"

    wrapped = textwrap.fill(note, 98, initial_indent="# ", subsequent_indent="# ")
    text = f"""# The fob's fall model, made by `python -m bench.fall_train`: do not edit by hand.
{wrapped}
# Layout (firmware/fall_detector.score walks it): TREES complete trees of depth DEPTH. Per tree,
# 2**DEPTH - 1 inner nodes in breadth-first order, each a feature index (FEATURE, one byte) and
# an int16 little-endian threshold (THRESHOLD): go left when feature <= threshold. Then
# 2**DEPTH leaf values (LEAF), signed bytes in 1/{SCALE} log-odds. A candidate is a FALL
# when BIAS plus the sum of its leaves exceeds CUT. Bytes, not tuples: 4 bytes a node, not 4 words.
from protocol.const import const

DEPTH = const({model.DEPTH})
TREES = const({model.TREES})
BIAS = const({model.BIAS})
CUT = const({model.CUT})
FEATURE = {chunks(model.FEATURE)}
THRESHOLD = {chunks(model.THRESHOLD)}
LEAF = {chunks(model.LEAF)}
"""
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    data = a.data or sisfall.default_data_dir(ROOT)
    if data is None:
        raise SystemExit("no SisFall folder: pass --data DIR")
    trials = fall_data.load(Path(data), (50, 25), a.jobs)
    rows = collect(trials, TRAIN_VARIANTS, a.jobs)
    impact = impacts(trials)
    keys = sorted(trials[50])
    subjects = sorted({k[1] for k in keys})
    trees, cut, m = choose(rows, impact, keys, subjects)
    x, y = training_set(rows, TRAIN_VARIANTS, impact, set(subjects))
    model = export(fit(x, y, trees), cut)
    write_model(
        model,
        a.out,
        f"{trees} trees, cut {cut} chosen by 4-fold subject-wise CV (worse margin {m:+.4f}) on "
        f"{len(subjects)} subjects, {len(y)} candidates.",
    )
    print(f"wrote {a.out}: {trees} trees, cut {cut}, CV margin {m:+.4f}, {len(y)} candidates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
