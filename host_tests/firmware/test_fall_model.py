"""The fall model: its export to integer tables, the shipped tables, and that the evaluation's
scoring of recorded features is exactly what the detector decides on the stream."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench import fall_data
from bench import fall_train as train
from firmware import fall_detector as fd
from firmware import fall_model
from hardware import sisfall
from hardware.sim import fall_replay

ROOT = Path(__file__).resolve().parents[2]
DATA = sisfall.default_data_dir(ROOT)
needs_data = pytest.mark.skipif(DATA is None, reason="SisFall folder <repo>/../shared absent")


def _synthetic(n: int, seed: int) -> tuple[list[tuple[int, ...]], list[int]]:
    # Integer features in the detector's ranges; the label depends on a few of them, with noise,
    # so the trees use several features and both sides of many thresholds.
    rng = random.Random(seed)
    x, y = [], []
    for _ in range(n):
        row = tuple(rng.randint(-1000, 4000) for _ in train.FEATURES)
        y.append(int(row[0] - row[9] + rng.randint(-800, 800) > 1500))
        x.append(row)
    return x, y


def test_exported_tables_score_as_the_trained_model_does() -> None:
    x, y = _synthetic(3000, 1)
    model = train.fit(x, y, 40)
    tables = train.export(model)
    raw = model.decision_function(x)
    # Leaves are rounded to 1/SCALE: at most half a unit off per tree, plus the bias.
    tol = 0.5 / train.SCALE * (tables.TREES + 1) + 1e-9
    worst = max(abs(fd.score(row, tables) / train.SCALE - r) for row, r in zip(x, raw, strict=True))
    assert worst <= tol
    assert tables.TREES == 40


def test_a_prefix_of_the_stages_is_the_smaller_model() -> None:
    x, y = _synthetic(2000, 2)
    model = train.fit(x, y, 30)
    small = train.export(model, trees=10)
    assert small.TREES == 10
    assert small.FEATURE == train.export(model).FEATURE[: 10 * 7]


def test_shipped_model_tables_are_complete_and_name_real_features() -> None:
    inner = (1 << fall_model.DEPTH) - 1
    assert fall_model.TREES > 0
    assert len(fall_model.FEATURE) == fall_model.TREES * inner
    assert len(fall_model.THRESHOLD) == 2 * fall_model.TREES * inner
    assert len(fall_model.LEAF) == fall_model.TREES * (inner + 1)
    assert max(fall_model.FEATURE) < fd.N_FEATURES == len(train.FEATURES)


@needs_data
@pytest.mark.parametrize(
    "name", ["F01_SA01_R01", "F13_SA02_R01", "F14_SA05_R04", "D11_SA04_R02", "D13_SA03_R01"]
)
def test_scoring_recorded_features_is_what_the_detector_decides(name: str) -> None:
    # The evaluation scores the features the detector recorded at each candidate instead of
    # re-running the stream once per fold; that must give the detector's own FALL events.
    code, subject, trial = name.split("_")
    assert DATA is not None
    path = next((Path(DATA) / subject).glob(f"{name}.txt*"))
    samples = sisfall.load_trial(str(path), 50).samples
    events = [i for i, e in fall_replay.feed(samples, 50) if e == fd.FALL]
    cands = fall_data.candidates(samples, 50)
    assert cands, "every one of these trials has candidates"
    assert events == [j for j, _p, f in cands if fd.is_fall(list(f), fall_model)]
