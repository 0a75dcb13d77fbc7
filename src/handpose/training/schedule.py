"""Learning-rate schedules: linear warmup, then cosine decay, step decay or constant.

The schedule is a pure function of the step (:func:`lr_factor`), wrapped in a ``LambdaLR`` whose state dict (the
step count) is saved in checkpoints; the function itself is rebuilt from the TrainConfig on resume.
"""

from __future__ import annotations

import math

import torch

from handpose.config import TrainConfig

SCHEDULES = ("cosine", "step", "constant")


def lr_factor(
    step: int,
    total_steps: int,
    schedule: str = "cosine",
    warmup_steps: int = 0,
    min_factor: float = 0.0,
    step_size: int | None = None,
    gamma: float = 0.1,
) -> float:
    """The multiplier of the base learning rate for optimizer step ``step`` (0-based).

    warmup: linear from 1/warmup_steps to 1 over the first ``warmup_steps`` steps.
    cosine: from 1 down to ``min_factor`` at ``total_steps`` (half a cosine over the steps after warmup).
    step: ``gamma ** (step // step_size)`` (Caffe's "step" policy; ``step_size`` default: a third of the run).
    constant: 1.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown lr schedule {schedule!r}; choose from {SCHEDULES}")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        size = step_size or max(1, total_steps // 3)
        return gamma ** (step // size)
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """The LambdaLR of ``cfg``'s schedule over ``total_steps`` optimizer steps."""
    if cfg.schedule not in SCHEDULES:
        raise ValueError(f"unknown lr schedule {cfg.schedule!r}; choose from {SCHEDULES}")

    def factor(step: int) -> float:
        return lr_factor(step, total_steps, cfg.schedule, cfg.warmup_steps, cfg.min_lr_ratio, cfg.lr_step_size,
                         cfg.lr_gamma)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
