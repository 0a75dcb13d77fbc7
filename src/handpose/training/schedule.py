"""Learning-rate schedules: linear warmup, then cosine decay, step decay or constant.

The schedule is a pure function of the step (:func:`lr_factor`), wrapped in a ``LambdaLR`` whose state dict (the
step count) is saved in checkpoints; the function itself is rebuilt from the TrainConfig on resume, and the base
learning rate, weight decay and momentum are this run's settings (:func:`apply_settings`: flags given with
``--resume`` take effect from the step it resumes at).

A run sized in epochs that is resumed with another batch size or process count has more or fewer steps left. Its
schedule is then stretched over them from where it stood (a :class:`Stretch` per such resume, kept in the
checkpoint), so the learning rate goes on from its value at the checkpoint to the end of the original curve, without
a jump.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from handpose.config import TrainConfig

SCHEDULES = ("cosine", "step", "constant")


def lr_factor(
    step: float,
    total_steps: int,
    schedule: str = "cosine",
    warmup_steps: int = 0,
    min_factor: float = 0.0,
    step_size: int | None = None,
    gamma: float = 0.1,
) -> float:
    """The multiplier of the base learning rate for optimizer step ``step`` (0-based; a stretched schedule's steps
    are fractional).

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
        return gamma ** math.floor(step / size)
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class Stretch:
    """A resume at step ``start`` that changed the run's length from ``before`` to ``after`` steps: steps from
    ``start`` on map linearly onto the earlier run's steps, ``after`` onto ``before``."""

    start: int
    before: int
    after: int

    def earlier_step(self, step: float) -> float:
        """This run's ``step`` as a step of the run before the resume."""
        if step <= self.start or self.after <= self.start:
            return step
        return self.start + (step - self.start) * (self.before - self.start) / (self.after - self.start)


def schedule_step(step: int, stretches: Sequence[Stretch]) -> float:
    """``step`` of the run now as a step of the run's first schedule (the stretches in the order they happened)."""
    at = float(step)
    for stretch in reversed(stretches):
        at = stretch.earlier_step(at)
    return at


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int, stretches: Sequence[Stretch] = ()
) -> torch.optim.lr_scheduler.LambdaLR:
    """The LambdaLR of ``cfg``'s schedule over ``total_steps`` optimizer steps (the first schedule's, with
    ``stretches`` from resumes that changed the run's length)."""
    if cfg.schedule not in SCHEDULES:
        raise ValueError(f"unknown lr schedule {cfg.schedule!r}; choose from {SCHEDULES}")
    first_total = stretches[0].before if stretches else total_steps

    def factor(step: int) -> float:
        return lr_factor(schedule_step(step, stretches), first_total, cfg.schedule, cfg.warmup_steps,
                         cfg.min_lr_ratio, cfg.lr_step_size, cfg.lr_gamma)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def apply_settings(optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LambdaLR,
                   cfg: TrainConfig) -> None:
    """After loading a checkpoint's optimizer and scheduler states: ``cfg``'s learning rate (the schedule's base),
    weight decay and momentum, from the scheduler's current step on (the states hold the saved run's)."""
    for group in optimizer.param_groups:
        group["initial_lr"] = cfg.lr
        group["weight_decay"] = cfg.weight_decay
        if "momentum" in group:
            group["momentum"] = cfg.momentum
    scheduler.base_lrs = [cfg.lr] * len(optimizer.param_groups)
    lrs = [cfg.lr * scheduler.lr_lambdas[0](scheduler.last_epoch)] * len(optimizer.param_groups)
    for group, lr in zip(optimizer.param_groups, lrs):
        group["lr"] = lr
    scheduler._last_lr = lrs  # what get_last_lr() reports until the next step


def resumed_stretches(cfg: TrainConfig, state: dict[str, Any], steps_total: int) -> list[Stretch]:
    """The stretches of a run resumed from checkpoint ``state`` with ``steps_total`` steps: the checkpoint's, and a
    new one where the run's length changed only because its batch or process count did (an epoch-sized run kept at
    its epochs). A length asked for anew (another ``--epochs`` or ``--max-steps``) starts the schedule afresh over the
    new length, as before any stretch."""
    saved = state.get("train_config", {})
    before = int(state.get("total_steps", steps_total))
    kept = cfg.max_steps is None and saved.get("max_steps") is None and saved.get("epochs") == cfg.epochs
    if not kept:
        return []
    stretches = [Stretch(**s) for s in state.get("schedule_stretches", [])]
    if before != steps_total:
        stretches.append(Stretch(int(state["step"]), before, steps_total))
    return stretches
