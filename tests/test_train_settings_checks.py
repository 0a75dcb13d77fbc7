"""A training setting out of range is refused before anything runs, in one line naming its flag (values such as
--val-limit -1 or --lr-gamma -1 were taken in silence and did something else than asked)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from handpose.cli import main
from handpose.config import TrainConfig
from handpose.training.setup import check_config


@pytest.mark.parametrize("field, value, said", [
    ("lr", 0.0, "--lr must be positive, got 0"),
    ("batch_size", 0, "--batch-size must be at least 1, got 0"),
    ("keep_checkpoints", -1, "--keep must be at least 0"),
    ("val_limit", -1, "--val-limit must be at least 1"),  # was: every held-out sample but the last
    ("val_limit", 0, "--val-limit must be at least 1"),
    ("val_images", -1, "--val-images must be at least 0"),
    ("lr_gamma", -1.0, "--lr-gamma must be positive"),  # was: a negative learning rate under --schedule step
    ("lr_step_size", 0, "--lr-step-size must be at least 1"),  # was: a third of the run, in silence
    ("grad_clip", -1.0, "--grad-clip must be at least 0"),  # was: no clipping, in silence
    ("min_lr_ratio", 2.0, "--min-lr-ratio must be in [0, 1]"),
    ("momentum", -1.0, "--momentum must be in [0, 1]"),  # was: torch's "Invalid momentum value" after the trial
    ("weight_decay", -1.0, "--weight-decay must be at least 0"),
    ("time_limit", 0.0, "--time-limit must be a positive number of minutes"),  # was: a stop after the first step
    ("stop_at_step", -3, "--stop-at-step must be at least 1"),  # was: a stop at step 0
    ("threads", -2, "--threads must be a whole number of at least 1, or auto"),  # was: torch's words
    ("epochs", -1.0, "--epochs must be positive"),
    ("epochs", float("nan"), "--epochs nan: must be a finite number"),
    ("synth_count", 0, "--synth-count must be between 1 and"),
])
def test_a_setting_out_of_range_is_named_by_its_flag(field: str, value: object, said: str) -> None:
    with pytest.raises(ValueError) as refused:
        check_config(dataclasses.replace(TrainConfig(max_steps=10), **{field: value}))
    assert said in str(refused.value)


def test_settings_in_range_pass() -> None:
    check_config(TrainConfig(max_steps=10, val_limit=1, val_images=0, grad_clip=0.0, min_lr_ratio=1.0, momentum=0.0,
                             time_limit=0.5, stop_at_step=1, threads=1, lr_step_size=1, lr_gamma=2.0))


def test_the_command_refuses_it_before_any_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    # --data: were the setting let through, the run would stop at the empty folder, not render the embedded set
    assert main(["train", "--preset", "lite", "--data", str(tmp_path), "--val-limit", "-1", "--out", str(out),
                 "--max-steps", "1"]) == 2
    assert "--val-limit must be at least 1" in capsys.readouterr().err
    assert not out.exists()


def test_a_detector_batch_of_one_1x1_map_is_refused() -> None:
    """--task detect --batch-size 1 --input-size 32 ended in torch's "Expected more than 1 value per channel when
    training" from a batch-norm layer of the backbone's stride-32 map (1 x 1 at 32 px)."""
    from handpose.config import DetectorConfig
    from handpose.training.recipes import detect_config

    cfg = detect_config(TrainConfig(max_steps=2))
    with pytest.raises(ValueError, match="--batch-size 1 at --input-size 32: .* batch-norm"):
        check_config(dataclasses.replace(cfg, batch_size=1, detector=DetectorConfig(input_size=32)))
    check_config(dataclasses.replace(cfg, batch_size=2, detector=DetectorConfig(input_size=32)))
    check_config(dataclasses.replace(cfg, batch_size=1, detector=DetectorConfig(input_size=64)))
