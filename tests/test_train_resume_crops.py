"""Resuming with other settings: another --val-fraction is refused (it would move samples the run trained on
into its held-out part), and other crop or target settings (--sigma, --box-padding, --mirror-left) are said in a
warning, and a --stop-at-step the run has passed is refused (all were taken in silence)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from handpose.cli import build_parser
from handpose.commands.train import config_from_args
from handpose.config import DataConfig, TrainConfig, to_dict
from handpose.model.cpm import preset
from handpose.training.checkpoints import save_checkpoint
from handpose.training.setup import crop_changes
from handpose.training.trainer import train


def test_another_val_fraction_is_refused_on_resume(tmp_path: Path) -> None:
    stored = TrainConfig(data="/d", max_steps=100, out=str(tmp_path), dataset=DataConfig(val_fraction=0.1))
    save_checkpoint({"model": {}, "model_config": {}, "optimizer": {}, "scheduler": {}, "step": 10,
                     "train_config": to_dict(stored)}, tmp_path / "checkpoints", 10, keep=2)
    resume = ["train", "--resume", str(tmp_path)]
    with pytest.raises(ValueError, match=r"--val-fraction 0\.5 would move samples .* holds out 0\.1"):
        config_from_args(build_parser().parse_args([*resume, "--val-fraction", "0.5"]), speed=False)
    same = config_from_args(build_parser().parse_args([*resume, "--val-fraction", "0.1"]), speed=False)
    assert same.dataset.val_fraction == 0.1


def test_crop_changes_name_each_flag() -> None:
    saved = to_dict(TrainConfig(dataset=DataConfig(sigma=2.0, box_padding=1.3, mirror_left=True)))
    same = TrainConfig(dataset=DataConfig(sigma=2.0, box_padding=1.3, mirror_left=True))
    assert crop_changes(saved, same) is None
    assert crop_changes({}, same) is None  # a checkpoint without its settings: nothing to compare
    moved = dataclasses.replace(same, dataset=DataConfig(sigma=1.0, box_padding=2.0, mirror_left=False))
    assert crop_changes(saved, moved) == ("--sigma 1.0 instead of 2.0, --box-padding 2.0 instead of 1.3, "
                                          "--mirror-left False instead of True")


def test_a_resume_with_another_sigma_is_warned_about(synth_data: Path, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    cfg = TrainConfig(data=str(synth_data), out=str(tmp_path), model=preset("tiny"),
                      dataset=DataConfig(input_size=64, sigma=2.0), batch_size=4, max_steps=3, workers=0,
                      log_every=1, val_every=0, ckpt_every=100, amp=False, channels_last=False, lr=1e-3, threads=1)
    train(dataclasses.replace(cfg, stop_at_step=2))
    resumed = dataclasses.replace(cfg, resume=str(tmp_path), dataset=DataConfig(input_size=64, sigma=1.0))
    with caplog.at_level(logging.WARNING, logger="handpose"):
        train(resumed)
    said = "resuming with --sigma 1.0 instead of 2.0: the crops and belief-map targets change from step 2"
    assert said in caplog.text


def test_a_stop_step_the_run_has_passed_is_refused_on_resume(synth_data: Path, tmp_path: Path) -> None:
    """`--resume RUN --stop-at-step 2` on a run at step 3 rewrote its checkpoint and said it stopped (stop_at_step)
    at step 3, having trained nothing."""
    cfg = TrainConfig(data=str(synth_data), out=str(tmp_path), model=preset("tiny"), dataset=DataConfig(input_size=64),
                      batch_size=4, max_steps=6, workers=0, log_every=1, val_every=0, ckpt_every=100, amp=False,
                      channels_last=False, lr=1e-3, threads=1)
    train(dataclasses.replace(cfg, stop_at_step=3))
    ckpt = tmp_path / "checkpoints" / "ckpt-00000003.pt"
    before = ckpt.stat().st_mtime_ns
    with pytest.raises(ValueError, match="--stop-at-step 2 is not after step 3, where the run resumes"):
        train(dataclasses.replace(cfg, resume=str(tmp_path), stop_at_step=2))
    assert ckpt.stat().st_mtime_ns == before  # left alone
    assert train(dataclasses.replace(cfg, resume=str(tmp_path), stop_at_step=4))["step"] == 4
