"""SisFall loader: plain and gzip files, unit conversion, resampling, axes, clear errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from hardware import sisfall

ROOT = Path(__file__).resolve().parents[2]
DATA = sisfall.default_data_dir(ROOT)

# Four 200 Hz rows -> one 50 Hz sample. ADXL345 columns first; the other six must be integers
# but are not used. Device standing still: SisFall y = -256 raw = -1 g.
ROWS = [
    "   0,-256,   0,  10, -20,  30, 0,-1024, 0;",
    "   4,-256,  -4,  10, -20,  30, 0,-1024, 0;",
    "   8,-256,   4,  10, -20,  30, 0,-1024, 0;",
    " 128,-256,   0,  10, -20,  30, 0,-1024, 0;",
]


def _write(path: Path, lines: list[str], gz: bool) -> Path:
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt", encoding="ascii") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="ascii")
    return path


@pytest.mark.parametrize("gz", [False, True], ids=["txt", "txt.gz"])
def test_plain_and_gzip_files_load_to_the_same_fob_samples(tmp_path: Path, gz: bool) -> None:
    name = "F05_SA01_R04.txt" + (".gz" if gz else "")
    trial = sisfall.load_trial(str(_write(tmp_path / name, ROWS * 3, gz)))
    assert (trial.code, trial.subject, trial.trial) == ("F05", "SA01", 4)
    assert trial.is_fall and not trial.is_elderly
    # x: mean raw 35 -> 35/256 g = 136.7 mg; fob y = SisFall z (mean 0); fob z = -SisFall y.
    assert trial.samples == [(137, 0, 1000)] * 3


def test_conversion_is_raw_over_256_g_rounded_to_integer_mg() -> None:
    assert sisfall.raw_to_mg(256) == 1000
    assert sisfall.raw_to_mg(-256) == -1000
    assert sisfall.raw_to_mg(4095) == 15996  # the ADXL345's +-16 g end of range
    assert sisfall.raw_to_mg(1) == 4  # 3.906 mg
    assert sisfall.raw_to_mg(-1) == -4
    assert all(type(sisfall.raw_to_mg(r)) is int for r in range(-300, 300))


def test_resampling_drops_a_trailing_partial_block(tmp_path: Path) -> None:
    path = _write(tmp_path / "D01_SE02_R01.txt", ROWS * 2 + ROWS[:3], gz=False)
    trial = sisfall.load_trial(str(path))
    assert len(trial.samples) == 2
    assert trial.is_elderly and not trial.is_fall


def test_axis_mapping_is_a_proper_rotation() -> None:
    ex, ey, ez = (sisfall.to_fob_axes(*v) for v in ((1, 0, 0), (0, 1, 0), (0, 0, 1)))
    det = (
        ex[0] * (ey[1] * ez[2] - ey[2] * ez[1])
        - ex[1] * (ey[0] * ez[2] - ey[2] * ez[0])
        + ex[2] * (ey[0] * ez[1] - ey[1] * ez[0])
    )
    assert det == 1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("  1,  2,  3,  4,  5,  6,  7,  8;", "expected 9 comma-separated values, got 8"),
        ("  1,  2,  x,  4,  5,  6,  7,  8,  9;", "non-integer value"),
        ("  1,  2,  3,  4,  5,  6,  7,  8, 9.5;", "non-integer value"),
    ],
)
@pytest.mark.parametrize("gz", [False, True], ids=["txt", "txt.gz"])
def test_bad_row_is_an_error_naming_file_and_line(
    tmp_path: Path, bad: str, message: str, gz: bool
) -> None:
    path = _write(tmp_path / ("D07_SA02_R01.txt" + (".gz" if gz else "")), ROWS + [bad], gz)
    with pytest.raises(sisfall.SisFallError) as err:
        sisfall.load_trial(str(path))
    assert message in str(err.value)
    assert f"{path}:5:" in str(err.value)


def test_empty_and_truncated_files_are_clear_errors(tmp_path: Path) -> None:
    empty = _write(tmp_path / "D07_SA02_R02.txt", [], gz=False)
    with pytest.raises(sisfall.SisFallError, match="no samples"):
        sisfall.load_trial(str(empty))
    whole = gzip.compress(("\n".join(ROWS * 50) + "\n").encode())
    cut = tmp_path / "D07_SA02_R03.txt.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(sisfall.SisFallError, match="cannot read"):
        sisfall.load_trial(str(cut))


def test_a_name_outside_the_sisfall_scheme_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "walking.txt", ROWS, gz=False)
    with pytest.raises(sisfall.SisFallError, match="not a SisFall trial name"):
        sisfall.load_trial(str(path))


def test_find_trials_skips_other_files_and_prefers_plain_text(tmp_path: Path) -> None:
    sub = tmp_path / "SA01"
    sub.mkdir()
    _write(sub / "D01_SA01_R01.txt", ROWS, gz=False)
    _write(sub / "D01_SA01_R01.txt.gz", ROWS, gz=True)
    _write(sub / "F01_SA01_R01.txt.gz", ROWS, gz=True)
    (tmp_path / "Readme.txt").write_text("not a trial")
    found = sisfall.find_trials(str(tmp_path))
    assert [Path(p).name for p in found] == ["D01_SA01_R01.txt", "F01_SA01_R01.txt.gz"]


@pytest.mark.skipif(DATA is None, reason="SisFall folder <repo>/../shared absent")
def test_real_recording_starts_upright_in_fob_axes() -> None:
    assert DATA is not None
    trial = sisfall.load_trial(str(Path(DATA) / "SA01" / "D07_SA01_R01.txt.gz"))
    assert len(trial.samples) in (599, 600)  # a 12 s trial at 50 Hz
    x, y, z = trial.samples[0]
    # Standing at the start of "sit slowly": z (up the body) carries most of 1 g.
    assert 800 <= z <= 1150 and abs(x) < 400 and abs(y) < 400
