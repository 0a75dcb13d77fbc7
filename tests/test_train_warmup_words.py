"""The warning of a warmup as long as the run names where the warmup came from: the recipe's (a fine-tune of a few
steps with the lite recipe's 50, --warmup-steps never given), or --warmup-steps when that was given; it named
--warmup-steps in both cases."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from handpose.cli import main
from handpose.config import TrainConfig
from handpose.training.recipes import detect_config
from handpose.training.setup import warmup_warning

QUICK = ["--input-size", "64", "--batch-size", "2", "--max-steps", "1", "--workers", "0", "--val-every", "0",
         "--amp", "off", "--channels-last", "off", "--device", "cpu"]


def _warmup_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "warmup" in r.getMessage() and r.levelno == logging.WARNING]


def test_the_recipes_warmup_is_named_as_the_recipes_when_the_flag_was_not_given(
        synth_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert main(["train", "--data", str(synth_data), "--preset", "lite", "--out", str(tmp_path / "run"),
                     *QUICK]) == 0
    said = _warmup_lines(caplog)
    assert said == ["the lite recipe's warmup of 50 steps is not shorter than the run's 1 steps: the learning rate "
                    "never reaches 0.004 (give --warmup-steps under 1)"]


def test_a_given_warmup_is_named_by_its_flag(synth_data: Path, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert main(["train", "--data", str(synth_data), "--preset", "lite", "--out", str(tmp_path / "run"),
                     "--warmup-steps", "7", *QUICK]) == 0
    assert [line.split(" is not")[0] for line in _warmup_lines(caplog)] == ["--warmup-steps 7"]


def test_the_detectors_recipe_is_named_for_a_detector_run() -> None:
    cfg = detect_config(TrainConfig())
    assert warmup_warning(cfg, 100) == ("the detector recipe's warmup of 100 steps is not shorter than the run's 100 "
                                        "steps: the learning rate never reaches 0.002 (give --warmup-steps under 100)")
    assert warmup_warning(cfg, 101) is None
    assert warmup_warning(dataclasses.replace(cfg, warmup_steps=300), 200).startswith("--warmup-steps 300 is not")
