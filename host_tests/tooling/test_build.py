"""`vigil firmware build`: every device module compiled, the host-only simulator left out, and a
manifest whose hashes match the files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tooling.build import BOARDS, build
from tooling.errors import BuildError


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_build_compiles_device_code_and_writes_a_manifest(board: str, tmp_path: Path) -> None:
    files = build(board, tmp_path)
    out = tmp_path / board
    paths = {f.path for f in files}
    assert "lib/protocol/frames.mpy" in paths
    assert "lib/firmware/fall_detector.mpy" in paths
    assert not any(p.startswith("lib/hardware/sim/") for p in paths), "simulator shipped to a fob"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["board"] == board and manifest["arch"] == "xtensawin"
    for f in manifest["files"]:
        data = (out / f["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
        if f["path"].endswith(".mpy"):
            assert data[:1] == b"M" and data[1] == 6, "not a MicroPython v6 .mpy"


def test_unknown_board_is_refused_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as err:
        build("esp8266-toaster", tmp_path)
    assert "m5stickc-plus2" in err.value.hint


def test_a_file_that_does_not_compile_names_itself(tmp_path: Path) -> None:
    root = tmp_path / "src"
    for pkg in ("protocol", "firmware", "hardware"):
        (root / pkg).mkdir(parents=True)
    (root / "firmware" / "broken.py").write_text("def f(:\n")
    with pytest.raises(BuildError) as err:
        build("m5stickc-plus2", tmp_path / "out", root=root)
    assert "firmware/broken.py" in str(err.value)
