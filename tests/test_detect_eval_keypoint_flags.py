"""`eval --task detect` refuses a --format other than the COCO ones and --keypoint-order, as `train --task detect`
does: they were ignored without a word, the boxes read as COCO whatever was given. --amp on, --channels-last on and
--workers, which it does not take either, are named in a warning."""

from __future__ import annotations

import logging
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


def test_speed_flags_it_does_not_take_are_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    argv = ["eval", "--task", "detect", "--weights", "pretrained:detector", "--data", str(tmp_path / "none.json"),
            "--amp", "on", "--workers", "2", "--channels-last", "on"]
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert main(argv) != 0  # the data is missing: the warning comes first
    said = [r.getMessage() for r in caplog.records if "not used by --task detect" in r.getMessage()]
    assert len(said) == 1 and "--amp on" in said[0] and "--channels-last on" in said[0] and "--workers" in said[0]
