"""Range checks of a training run's own settings (optimiser, schedule, length, cadence): one ValueError naming the
``handpose train`` flag, its value and what it must be.

A value out of range used to be taken in silence and do something else than asked: ``--val-limit -1`` validated on
every held-out sample but the last, ``--lr-gamma -1`` made the step schedule's learning rate negative (the weights
climbing the loss), ``--grad-clip -1`` and ``--lr-step-size 0`` turned themselves off, ``--time-limit 0`` or
``--stop-at-step -3`` ended the run at once; ``--momentum -1`` and ``--weight-decay -1`` failed in torch's words
after the speed trial. The model's and data's fields are checked by ``config_checks``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from handpose.autotune.free_cores import AUTO
from handpose.config import TrainConfig
from handpose.synth.output_folder import MAX_COUNT, MAX_SIZE, MIN_SIZE

# field: (flag, holds, must be): checked where the value is set (None, for an optional field, is not checked)
RULES: dict[str, tuple[str, Callable[[Any], bool], str]] = {
    "batch_size": ("--batch-size", lambda v: v >= 1, "at least 1"),
    "log_every": ("--log-every", lambda v: v >= 1, "at least 1"),
    "ckpt_every": ("--ckpt-every", lambda v: v >= 1, "at least 1"),
    "val_every": ("--val-every", lambda v: v >= 0, "at least 0 (0: no validation)"),
    "keep_checkpoints": ("--keep", lambda v: v >= 0, "at least 0 (0 keeps every checkpoint)"),
    "workers": ("--workers", lambda v: v >= 0, "at least 0 (0: load data in the training process)"),
    "warmup_steps": ("--warmup-steps", lambda v: v >= 0, "at least 0"),
    "lr": ("--lr", lambda v: v > 0, "positive"),
    "weight_decay": ("--weight-decay", lambda v: v >= 0, "at least 0"),
    "momentum": ("--momentum", lambda v: 0 <= v <= 1, "in [0, 1]"),
    "min_lr_ratio": ("--min-lr-ratio", lambda v: 0 <= v <= 1, "in [0, 1] (a fraction of --lr)"),
    "lr_step_size": ("--lr-step-size", lambda v: v >= 1, "at least 1 (leave it out for a third of the run)"),
    "lr_gamma": ("--lr-gamma", lambda v: v > 0, "positive (the factor the learning rate is multiplied by)"),
    "grad_clip": ("--grad-clip", lambda v: v >= 0, "at least 0 (0: no clipping)"),
    "epochs": ("--epochs", lambda v: v > 0, "positive"),
    "max_steps": ("--max-steps", lambda v: v >= 1, "at least 1"),
    "stop_at_step": ("--stop-at-step", lambda v: v >= 1, "at least 1"),
    "time_limit": ("--time-limit", lambda v: v > 0, "a positive number of minutes"),
    "val_limit": ("--val-limit", lambda v: v >= 1, "at least 1 (--val-every 0 turns validation off)"),
    "val_images": ("--val-images", lambda v: v >= 0, "at least 0"),
    "threads": ("--threads", lambda v: v >= 1 and v == int(v), "a whole number of at least 1, or auto (leave it "
                "out for torch's choice)"),
    "synth_count": ("--synth-count", lambda v: 1 <= v <= MAX_COUNT, f"between 1 and {MAX_COUNT:,}"),
    "synth_size": ("--synth-size", lambda v: MIN_SIZE <= v <= MAX_SIZE, f"between {MIN_SIZE} and {MAX_SIZE} pixels"),
}


def check_train_settings(cfg: TrainConfig) -> None:
    """ValueError ``"--flag must be ..., got X"`` for the first of ``cfg``'s run settings out of range (types are the
    dataclass's: a value of another type, or a non-finite number, is refused as well)."""
    for name, (flag, holds, must) in RULES.items():
        value = getattr(cfg, name)
        if value is None or (name == "threads" and value == AUTO):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{flag} {value!r}: must be a finite number ({name})")
        if not holds(value):
            raise ValueError(f"{flag} must be {must}, got {value:g}")
