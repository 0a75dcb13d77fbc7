"""``handpose train``'s speed trial (``--amp auto`` / ``--channels-last auto``) runs once the data is read and split:
a dataset that leaves nothing to train on (a COCO json named for test, held out whole) fails in seconds with its
reason, where it failed only after the trial (about half a minute on 2 cores for the lite preset)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from test_data_helpers import write_coco

from handpose.cli import main

TINY = ["--preset", "tiny", "--input-size", "64", "--batch-size", "2", "--max-steps", "1", "--workers", "0",
        "--val-every", "0", "--amp", "auto", "--channels-last", "auto", "--device", "cpu"]


def _trial_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("autotune train")]


def test_a_json_with_no_training_part_fails_before_the_speed_trial(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path / "cache"))
    data = write_coco(tmp_path / "data" / "hands_test.json", tmp_path / "data", 3)
    with caplog.at_level(logging.INFO, logger="handpose"):
        assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), *TINY]) == 2
    assert "no training samples: all 3 are in the dataset's own test or validation part" in capsys.readouterr().err
    assert _trial_lines(caplog) == []  # no trial was run, nor read from a cache
    assert not (tmp_path / "cache" / "autotune.json").exists()


def test_the_same_flags_on_a_training_json_run_the_trial(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The control: these flags do start the trial, after the data line."""
    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path / "cache"))
    data = write_coco(tmp_path / "data" / "hands.json", tmp_path / "data", 3)
    with caplog.at_level(logging.INFO, logger="handpose"):
        assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--val-fraction", "0", *TINY]) == 0
    said = [r.getMessage() for r in caplog.records]
    data_line = next(i for i, m in enumerate(said) if m.startswith(f"data {data}"))
    trial_line = next(i for i, m in enumerate(said) if m.startswith("autotune train tiny 64px batch 2 on cpu"))
    assert data_line < trial_line  # (not cached where other processes kept the CPUs busy: not asserted)
