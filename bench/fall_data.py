"""SisFall trials as the fob sees them, and the fall detector's candidates on them.

Shared by the trainer (bench/fall_train.py) and the evaluation (bench/fall_eval.py):

- `load(data, rates)`: every trial under `data` at each rate, via `hardware.sisfall.load_trial`,
  cached in var/cache/ keyed by the files' names, sizes and mtimes.
- `variant(samples, seed, clip_mg)`: the trial as a fob mounted at a random rotation (seeded,
  so runs repeat) with the sensor clipping at +-clip_mg, the way real wear looks.
- `candidates(samples, rate)`: every candidate the firmware's own FallDetector judges, with the
  features it computed, when, and which peak. The features come from the detector itself (a
  subclass that records instead of scoring), so training sees exactly what the fob computes.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import random
from pathlib import Path

from firmware import fall_detector as fd
from hardware import sisfall

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "var" / "cache"

Key = tuple[str, str, int]  # (code, subject, trial)
Samples = list[tuple[int, int, int]]


def _load_one(job: tuple[str, int]) -> tuple[Key, int, Samples]:
    path, rate = job
    t = sisfall.load_trial(path, rate)
    return (t.code, t.subject, t.trial), rate, t.samples


def load(data: Path, rates: tuple[int, ...], jobs: int = 2) -> dict[int, dict[Key, Samples]]:
    """{rate: {key: samples}} for every trial under `data`."""
    paths = sisfall.find_trials(str(data))
    if not paths:
        raise SystemExit(f"no SisFall trial files (<CODE>_<SUBJECT>_Rnn.txt[.gz]) under {data}")
    sig = [(p, os.path.getsize(p), int(os.path.getmtime(p))) for p in paths]
    out: dict[int, dict[Key, Samples]] = {}
    for rate in rates:
        digest = hashlib.sha1(repr((str(data.resolve()), rate, sig)).encode()).hexdigest()[:16]
        cache = CACHE_DIR / f"sisfall-{digest}.pkl"
        if cache.exists():
            with cache.open("rb") as f:
                out[rate] = pickle.load(f)
            continue
        with multiprocessing.Pool(jobs) as pool:
            got = pool.map(_load_one, [(p, rate) for p in paths], chunksize=8)
        out[rate] = {k: s for k, _r, s in got}
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        with tmp.open("wb") as f:
            pickle.dump(out[rate], f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(cache)
    return out


def variant(samples: Samples, seed: str, clip_mg: int | None = None) -> Samples:
    """`samples` from a fob mounted at the random rotation `seed` picks, clipped at +-clip_mg."""
    rng = random.Random(seed)
    out: Samples = sisfall.mounted(
        samples, sisfall.rotation(rng.random(), rng.random(), rng.random())
    )
    return sisfall.clipped(out, clip_mg) if clip_mg else out


class _Recorder(fd.FallDetector):  # type: ignore[misc]
    """The firmware's detector with the model call replaced by a record of the features."""

    def __init__(self, rate_hz: int) -> None:
        super().__init__(rate_hz)
        self.rows: list[tuple[int, ...]] = []

    def _classify(self) -> bool:
        self.rows.append(tuple(self.features))
        return False


def candidates(samples: Samples, rate: int) -> list[tuple[int, int, tuple[int, ...]]]:
    """[(judged_at, peak_at, features)] in input-sample indices at `rate`."""
    d = _Recorder(rate)
    step = d.step
    post = fd.POST_MS * rate // 1000
    out = []
    seen = 0
    for i, (x, y, z) in enumerate(samples):
        step(x, y, z)
        if len(d.rows) != seen:
            seen = len(d.rows)
            out.append((i, i - post, d.rows[-1]))
    return out


def impact_index(samples: Samples) -> int:
    """The trial's sample of largest acceleration magnitude (a fall trial's impact)."""
    best, at = -1, 0
    for i, (x, y, z) in enumerate(samples):
        m2 = x * x + y * y + z * z
        if m2 > best:
            best, at = m2, i
    return at
