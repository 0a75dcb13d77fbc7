"""The writer: hand_labels_synth files, byte-for-byte determinism, read back by the dataset reader, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import pytest

from handpose.cli import main
from handpose.data.formats import detect_format, load_splits
from handpose.synth import write_dataset
from handpose.synth.output_folder import MANIFEST_NAME


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_files_are_valid_hand_labels_synth(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path, 6, seed=1, size=128)
    assert folder == tmp_path / "synth1"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{i:08d}.{ext}" for i in range(6) for ext in ("jpg", "json")] + [MANIFEST_NAME]
    for i in range(6):
        doc = json.loads((folder / f"{i:08d}.json").read_text())
        assert doc["is_left"] in (0, 1)
        assert len(doc["hand_pts"]) == 21
        for x, y, v in doc["hand_pts"]:
            assert math.isfinite(x) and math.isfinite(y) and v in (0.0, 1.0)
        img = cv2.imread(str(folder / f"{i:08d}.jpg"))
        assert img.shape == (128, 128, 3)


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    a = _files(write_dataset(tmp_path / "a", 5, seed=7, size=128))
    b = _files(write_dataset(tmp_path / "b", 5, seed=7, size=128))
    c = _files(write_dataset(tmp_path / "c", 5, seed=8, size=128))
    assert a == b
    assert all(a[k] != c[k] for k in a if k.endswith(".jpg"))


@pytest.mark.slow
def test_workers_do_not_change_the_bytes(tmp_path: Path) -> None:
    # more samples than one task so that both workers write
    one = _files(write_dataset(tmp_path / "one", 70, seed=3, size=64, workers=1))
    two = _files(write_dataset(tmp_path / "two", 70, seed=3, size=64, workers=2))
    assert one == two and len(one) == 141  # + the manifest


def test_a_smaller_render_into_the_same_folder_leaves_no_stale_samples(tmp_path: Path) -> None:
    write_dataset(tmp_path, 5, seed=1, size=64)
    (tmp_path / "synth1" / "notes.txt").write_text("mine")
    folder = write_dataset(tmp_path, 3, seed=2, size=64)
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{i:08d}.{ext}" for i in range(3) for ext in ("jpg", "json")] + [MANIFEST_NAME, "notes.txt"]
    assert len(load_splits(tmp_path).train + load_splits(tmp_path).val) == 3


def test_reader_reads_the_folder_back(tmp_path: Path) -> None:
    write_dataset(tmp_path, 12, seed=4, size=96, folder="synth2")
    assert detect_format(tmp_path) == "hand_labels_synth"
    splits = load_splits(tmp_path)
    samples = splits.train + splits.val
    assert len(samples) == 12 and splits.fmt == "hand_labels_synth"
    by_name = {s.image_path.name: s for s in samples}
    for i in range(12):
        doc = json.loads((tmp_path / "synth2" / f"{i:08d}.json").read_text())
        s = by_name[f"{i:08d}.jpg"]
        assert s.keypoints.shape == (21, 3)
        assert s.is_left == bool(doc["is_left"])
        assert abs(float(s.keypoints[3, 0]) - doc["hand_pts"][3][0]) < 1e-3


def test_cli_writes_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--out", str(tmp_path), "--count", "3", "--seed", "2", "--size", "96",
                 "--folder", "synth3"]) == 0
    assert len(list((tmp_path / "synth3").glob("*.jpg"))) == 3
    assert str(tmp_path / "synth3") in capsys.readouterr().out
    assert main(["synth", "--out", str(tmp_path), "--count", "3", "--workers", "0"]) == 2
    assert main(["synth", "--out", str(tmp_path), "--count", "3", "--seed", "-1"]) == 2
    assert "seed must be >= 0" in capsys.readouterr().err
