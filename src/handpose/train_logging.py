"""What a training run reports: the old script's log line, a progress bar on terminals, TensorBoard events.

The log line keeps the format users of the old TensorFlow script know::

    epoch=0.53 step=1000, 40.9523 examples/sec lr=0.000100, loss=155.03, loss_ll_heat=30.5468

with a true epoch (samples seen / training set size) and losses averaged over the steps since the last line.
TensorBoard tags: ``train/loss``, ``train/loss_ll_heat``, ``train/loss_stage<s>``, ``train/lr``,
``train/examples_per_sec``, ``train/epoch``; ``val/<metric>`` and the images ``val/sample<i>``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

LOG = logging.getLogger(__name__)

VAL_SCALARS = ("PCK@0.2", "PCKh@0.7", "AUC", "EPE")


def format_log_line(epoch: float, step: int, examples_per_sec: float, lr: float, loss: float,
                    loss_ll_heat: float) -> str:
    """``epoch=0.53 step=1000, 40.9523 examples/sec lr=0.000100, loss=155.03, loss_ll_heat=30.5468``."""
    return (f"epoch={epoch:.2f} step={step:d}, {examples_per_sec:0.4f} examples/sec lr={lr:f}, "
            f"loss={loss:g}, loss_ll_heat={loss_ll_heat:g}")


def progress_bar(total: int, initial: int, enabled: bool) -> Any:
    """A tqdm bar over optimizer steps when ``enabled`` and stderr is a terminal, else None."""
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=True)


class TrainWriter:
    """TensorBoard events of one run (rank 0 only); every method is a no-op when ``enabled`` is False."""

    def __init__(self, log_dir: str | Path, enabled: bool = True) -> None:
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(log_dir))

    def train_scalars(self, step: int, loss: float, stage_losses: list[float], lr: float, examples_per_sec: float,
                      epoch: float) -> None:
        if self.writer is None:
            return
        w = self.writer
        w.add_scalar("train/loss", loss, step)
        w.add_scalar("train/loss_ll_heat", stage_losses[-1], step)
        for s, value in enumerate(stage_losses, start=1):
            w.add_scalar(f"train/loss_stage{s}", value, step)
        w.add_scalar("train/lr", lr, step)
        w.add_scalar("train/examples_per_sec", examples_per_sec, step)
        w.add_scalar("train/epoch", epoch, step)

    def validation(self, step: int, metrics: dict[str, Any], images: list[np.ndarray]) -> None:
        """Scalars of the metrics (those present and finite) and RGB uint8 (H, W, 3) images."""
        if self.writer is None:
            return
        for key in VAL_SCALARS:
            value = metrics.get(key)
            if value is not None and np.isfinite(value):
                self.writer.add_scalar(f"val/{key}", float(value), step)
        for i, img in enumerate(images):
            self.writer.add_image(f"val/sample{i}", img, step, dataformats="HWC")

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
