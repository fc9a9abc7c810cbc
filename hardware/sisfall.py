# SisFall recordings as the fob's accelerometer would have seen them (host-side only).
#
# SisFall (Sucerquia, Lopez, Vargas-Bonilla, Sensors 2017, 17(1):198) stores one trial per file,
# `<CODE>_<SUBJECT>_<TRIAL>.txt` (or `.txt.gz`), 200 Hz, nine comma-separated integers per row
# ending in `;`: ADXL345 x,y,z | ITG3200 gyro x,y,z | MMA8451Q x,y,z.
#
# We use the ADXL345 columns: +-16 g range, so a hard impact never clips (the MMA8451Q's +-8 g
# can), and raw/256 g is the readme's (2*16/2**13) scale. Converted to integer milli-g with
# round-half-away-from-zero on exact integers: mg = round(raw * 1000 / 256).
#
# Axis convention. SisFall's device was worn at the waist with +y along gravity, so standing
# still reads y = -1 g. The fob's convention (documented in docs/fall-detection.md) is
#   +z up the wearer's body (upright at rest reads z = +1000 mg),
#   +x and +y in the plane across the body, right-handed with z.
# The mapping is a proper rotation (determinant +1), so orientation changes keep their sign:
#   fob_x = sis_x,  fob_y = sis_z,  fob_z = -sis_y.
# The detector uses only magnitudes and angles between gravity directions, so a fob worn in a
# different orientation gives the same decisions; the mapping matters for posture read-outs.
#
# Resampling 200 Hz -> 50 Hz: mean of each block of 4 samples (a boxcar anti-alias filter, the
# cheapest one an accelerometer's own averaging mode gives: ADXL345-class parts decimate the same
# way). A peak is therefore softened by at most the block mean, as on a real 50 Hz part.
#
# This module runs on CPython only (it reads files); it lives in hardware/ because it is the
# "simulated sensor" that replays real recordings into device code.
import gzip
import math
import os
import re

SOURCE_HZ = 200
FOB_HZ = 50
_RAW_PER_G = 256  # ADXL345, +-16 g, 13 bit: (2*16)/2**13 g per bit
_NAME = re.compile(r"^([DF]\d\d)_(S[AE]\d\d)_R(\d\d)\.txt(\.gz)?$")


class SisFallError(ValueError):
    """A SisFall file is malformed; the message names the file and line."""


class Trial:
    """One recording: activity code, subject, trial number and the fob-axis samples in mg."""

    __slots__ = ("code", "subject", "trial", "path", "samples")

    def __init__(self, code, subject, trial, path, samples):
        self.code = code
        self.subject = subject
        self.trial = trial
        self.path = path
        self.samples = samples  # list of (x_mg, y_mg, z_mg) at FOB_HZ, fob axes

    @property
    def is_fall(self):
        return self.code.startswith("F")

    @property
    def is_elderly(self):
        return self.subject.startswith("SE")

    def __repr__(self):
        return "Trial(%s_%s_R%02d, %d samples)" % (
            self.code,
            self.subject,
            self.trial,
            len(self.samples),
        )


def parse_name(name):
    """(code, subject, trial) from a SisFall file name, or None if it is not a trial file."""
    m = _NAME.match(os.path.basename(name))
    if m is None:
        return None
    return m.group(1), m.group(2), int(m.group(3))


def raw_to_mg(raw):
    """ADXL345 raw count -> integer milli-g, rounding half away from zero without floats."""
    num = raw * 1000
    if num >= 0:
        return (num + _RAW_PER_G // 2) // _RAW_PER_G
    return -((-num + _RAW_PER_G // 2) // _RAW_PER_G)


def read_raw(path):
    """The ADXL345 (x, y, z) raw counts of every row of a `.txt` or `.txt.gz` SisFall file.

    Raises SisFallError naming the file and line for a row that is not nine integers.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    rows = []
    try:
        with opener(path, "rt", encoding="ascii", errors="strict") as f:
            for lineno, line in enumerate(f, 1):
                text = line.strip()
                if not text:
                    continue
                if text.endswith(";"):
                    text = text[:-1]
                fields = text.split(",")
                if len(fields) != 9:
                    raise SisFallError(
                        "%s:%d: expected 9 comma-separated values, got %d: %r"
                        % (path, lineno, len(fields), line.strip()[:60])
                    )
                try:
                    rows.append((int(fields[0]), int(fields[1]), int(fields[2])))
                    for v in fields[3:]:
                        int(v)
                except ValueError:
                    raise SisFallError(
                        "%s:%d: non-integer value in %r" % (path, lineno, line.strip()[:60])
                    ) from None
    except (OSError, EOFError, UnicodeDecodeError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise SisFallError("%s: cannot read: %s" % (path, e)) from e
    if not rows:
        raise SisFallError("%s: no samples" % (path,))
    return rows


def to_fob_axes(sx, sy, sz):
    """SisFall device axes -> fob axes (see the header): a proper rotation."""
    return sx, sz, -sy


def resample(rows, factor=SOURCE_HZ // FOB_HZ):
    """Block-mean decimation of raw (x, y, z) rows; a trailing partial block is dropped.

    Returns raw-count sums divided in integer arithmetic after conversion to mg, so no float.
    """
    out = []
    n = len(rows) - len(rows) % factor
    for i in range(0, n, factor):
        sx = sy = sz = 0
        for j in range(i, i + factor):
            r = rows[j]
            sx += r[0]
            sy += r[1]
            sz += r[2]
        # mean raw * 1000 / 256, rounded: raw_to_mg on the sum with the block size folded in
        out.append(
            (
                _div_round(sx * 1000, factor * _RAW_PER_G),
                _div_round(sy * 1000, factor * _RAW_PER_G),
                _div_round(sz * 1000, factor * _RAW_PER_G),
            )
        )
    return out


def _div_round(num, den):
    if num >= 0:
        return (num + den // 2) // den
    return -((-num + den // 2) // den)


def load_trial(path, rate_hz=FOB_HZ):
    """Read one SisFall file and return a Trial in fob axes at `rate_hz` (200 or a divisor)."""
    meta = parse_name(path)
    if meta is None:
        raise SisFallError("%s: not a SisFall trial name (<CODE>_<SUBJECT>_Rnn.txt[.gz])" % path)
    if SOURCE_HZ % rate_hz:
        raise SisFallError("rate %d Hz does not divide %d Hz" % (rate_hz, SOURCE_HZ))
    rows = resample(read_raw(path), SOURCE_HZ // rate_hz)
    samples = [to_fob_axes(x, y, z) for x, y, z in rows]
    return Trial(meta[0], meta[1], meta[2], str(path), samples)


def find_trials(root):
    """Every SisFall trial file under `root` (any depth), sorted; `.txt` wins over `.txt.gz`."""
    found = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            meta = parse_name(name)
            if meta is None:
                continue
            key = meta
            path = os.path.join(dirpath, name)
            if key not in found or not name.endswith(".gz"):
                found[key] = path
    return [found[k] for k in sorted(found)]


def default_data_dir(repo_root):
    """`<repo>/../shared/data/sisfall`, looked for from the repo root upwards.

    A git worktree sits one level deeper than the main checkout (e.g. /work/wt/<name>), so the
    same shared folder is found from both. $VIGIL_SISFALL overrides. None if absent.
    """
    env = os.environ.get("VIGIL_SISFALL")
    if env:
        return env if os.path.isdir(env) else None
    here = os.path.abspath(str(repo_root))
    while True:
        parent = os.path.dirname(here)
        cand = os.path.join(parent, "shared", "data", "sisfall")
        if os.path.isdir(cand):
            return cand
        if parent == here:
            return None
        here = parent


# ---------------------------------------------------------------------------------------------
# The same recording as a fob worn another way up, or with a smaller sensor range.


def rotation(u1, u2, u3):
    """A proper rotation matrix from three numbers in [0, 1), uniform over rotations when they are.

    Shoemake's subgroup algorithm (Graphics Gems III, "Uniform random rotations"): the unit
    quaternion (sqrt(1-u1) sin 2πu2, sqrt(1-u1) cos 2πu2, sqrt(u1) sin 2πu3, sqrt(u1) cos 2πu3).
    """
    a = math.sqrt(1 - u1)
    b = math.sqrt(u1)
    qx, qy = a * math.sin(2 * math.pi * u2), a * math.cos(2 * math.pi * u2)
    qz, qw = b * math.sin(2 * math.pi * u3), b * math.cos(2 * math.pi * u3)
    return (
        (1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qz * qw), 2 * (qx * qz + qy * qw)),
        (2 * (qx * qy + qz * qw), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qx * qw)),
        (2 * (qx * qz - qy * qw), 2 * (qy * qz + qx * qw), 1 - 2 * (qx * qx + qy * qy)),
    )


def mounted(samples, matrix):
    """The samples as a fob mounted with rotation `matrix` reads them (rounded to integer mg)."""
    (a, b, c), (d, e, f), (g, h, i) = matrix
    return [
        (
            round(a * x + b * y + c * z),
            round(d * x + e * y + f * z),
            round(g * x + h * y + i * z),
        )
        for x, y, z in samples
    ]


def clipped(samples, range_mg):
    """The samples as a sensor with full scale +-range_mg reads them: each axis saturates."""
    lo, hi = -range_mg, range_mg
    return [(min(hi, max(lo, x)), min(hi, max(lo, y)), min(hi, max(lo, z))) for x, y, z in samples]
