"""`eval --task detect` refuses a --format other than the COCO ones and --keypoint-order, as `train --task detect`
does: they were ignored without a word, the boxes read as COCO whatever was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from handpose.cli import main


@pytest.mark.parametrize("flags, named", [
    (["--format", "panopticdb"], "--format panopticdb"),
    (["--format", "coco", "--keypoint-order", "rhd"], "--keypoint-order"),
])
def test_keypoint_data_flags_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str],
                                         named: str) -> None:
    argv = ["eval", "--task", "detect", "--weights", "pretrained:detector", "--data", str(tmp_path / "hands.json")]
    assert main([*argv, *flags]) != 0
    err = capsys.readouterr().err
    assert f"{named}: keypoint task only" in err
