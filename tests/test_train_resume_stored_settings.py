"""A run started with --threads 0 or --val-limit 0 (taken before the range checks of settings_checks) resumes as it
ran; it was refused, naming a flag the user had not given ("--threads must be at least 1 (leave it out ...)")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from handpose.cli import build_parser
from handpose.commands.train import config_from_args
from handpose.config import TrainConfig, to_dict
from handpose.training.checkpoints import save_checkpoint
from handpose.training.setup import check_config


def stored_run(folder: Path, **settings: Any) -> list[str]:
    """A run folder whose checkpoint stores ``settings``; the ``handpose train --resume`` arguments of it."""
    stored = TrainConfig(data="/d", max_steps=100, out=str(folder), **settings)
    save_checkpoint({"model": {}, "model_config": {}, "optimizer": {}, "scheduler": {}, "step": 10,
                     "train_config": to_dict(stored)}, folder / "checkpoints", 10, keep=2)
    return ["train", "--resume", str(folder)]


def resumed(argv: list[str]) -> TrainConfig:
    cfg = config_from_args(build_parser().parse_args(argv), speed=False)
    check_config(cfg)  # what `handpose train` checks before the run
    return cfg


def test_threads_0_resumes_with_torchs_own_thread_count(tmp_path: Path) -> None:
    assert resumed(stored_run(tmp_path, threads=0)).threads is None  # what 0 did: `if cfg.threads:` set none
    assert resumed([*stored_run(tmp_path, threads=0), "--threads", "2"]).threads == 2


def test_val_limit_0_resumes_without_validation(tmp_path: Path) -> None:
    cfg = resumed(stored_run(tmp_path, val_limit=0, val_every=500))
    assert (cfg.val_limit, cfg.val_every) == (None, 0)  # what 0 did: validation on no sample
    again = resumed([*stored_run(tmp_path, val_limit=0, val_every=500), "--val-every", "50", "--val-limit", "8"])
    assert (again.val_limit, again.val_every) == (8, 50)


def test_settings_in_range_are_kept(tmp_path: Path) -> None:
    cfg = resumed(stored_run(tmp_path, threads=3, val_limit=7, val_every=40))
    assert (cfg.threads, cfg.val_limit, cfg.val_every) == (3, 7, 40)



def test_other_settings_taken_before_the_checks_resume_as_they_ran(tmp_path: Path) -> None:
    """--grad-clip -1 (no clipping), --lr-step-size 0 (a third of the run), --val-limit -2 and settings the run
    never used (a cosine run's --lr-gamma -1, an adam run's --momentum 2) were refused on --resume, naming flags the
    user had not given."""
    cfg = resumed(stored_run(tmp_path, grad_clip=-1.0, lr_step_size=0, schedule="step", min_lr_ratio=5.0))
    assert (cfg.grad_clip, cfg.lr_step_size, cfg.min_lr_ratio) == (0.0, None, 0.0)
    cfg = resumed(stored_run(tmp_path, lr_gamma=-1.0, lr_step_size=-3, momentum=2.0, val_limit=-2))
    assert (cfg.lr_gamma, cfg.lr_step_size, cfg.momentum, cfg.val_limit) == (0.1, None, 0.9, None)


def test_a_used_setting_out_of_range_is_still_refused(tmp_path: Path) -> None:
    """A step schedule's --lr-gamma -1 made the learning rate negative: nothing does that now, so it stays refused."""
    with pytest.raises(ValueError, match="--lr-gamma must be positive"):
        resumed(stored_run(tmp_path, lr_gamma=-1.0, schedule="step"))
