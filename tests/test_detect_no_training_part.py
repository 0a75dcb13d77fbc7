"""`train --task detect` on a json that leaves no training image says why: a json named for val or test is held out
whole (its name alone decides), or the hash split of --val-fraction took every image; it said only 'all N are in
the held-out split'."""

from __future__ import annotations

from pathlib import Path

import pytest

from handpose.cli import main
from handpose.detection.toy_scenes import write_toy_scenes

FAST = ["--task", "detect", "--amp", "off", "--channels-last", "off", "--max-steps", "2", "--workers", "0"]


def test_a_json_named_for_test_is_named_as_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    scenes = write_toy_scenes(tmp_path / "scenes", count=4, seed=3)
    named = scenes.with_name("my_hands_test.json")
    scenes.rename(named)
    assert main(["train", "--data", str(named), "--out", str(tmp_path / "run"), *FAST]) == 2
    err = capsys.readouterr().err
    assert "no training images: all 4 are in a json whose name holds val or test" in err
    assert "named without val or test" in err
    assert not (tmp_path / "run").exists()


def test_the_hash_split_is_named_when_it_held_every_image_out(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    scenes = write_toy_scenes(tmp_path / "scenes", count=1, seed=3)
    assert main(["train", "--data", str(scenes), "--out", str(tmp_path / "run"), "--val-fraction", "0.99",
                 *FAST]) == 2
    assert ("all 1 are held out (0 by a json named for val or test, 1 by the hash split of --val-fraction 0.99); "
            "lower --val-fraction") in capsys.readouterr().err
