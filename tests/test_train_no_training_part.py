"""A dataset that leaves nothing to train on says why: its own test part took every sample (a COCO json named for
test, as MMPose names its files) or the hash split of --val-fraction did, instead of 'all N are in the held-out
split' with no reason a user could act on."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_data_helpers import write_coco

from handpose.cli import main

FAST = ["--amp", "off", "--channels-last", "off", "--max-steps", "2", "--workers", "0"]


def test_a_json_named_for_test_is_named_as_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = write_coco(tmp_path / "data" / "my_hands_test.json", tmp_path / "data", 3)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), *FAST]) == 2
    err = capsys.readouterr().err
    assert "no training samples: all 3 are in the dataset's own test or validation part" in err
    assert "a COCO json whose name holds val or test" in err
    assert not (tmp_path / "run").exists()


def test_the_hash_split_is_named_when_it_held_everything_out(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    data = write_coco(tmp_path / "data" / "hands.json", tmp_path / "data", 1)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--val-fraction", "0.99", *FAST]) == 2
    err = capsys.readouterr().err
    assert "all 1 are held out (0 in the dataset's own test or validation part, 1 by the hash split of " \
           "--val-fraction 0.99); lower --val-fraction" in err
