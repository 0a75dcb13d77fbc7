"""What a training run reports: the old script's log line, a progress bar on terminals, TensorBoard events.

On a terminal the bar stays at the bottom and every log record (the log line, validation, checkpoints) is printed
above it on the log's stream; elsewhere (files, pipes) there is no bar and records go out as configured.

The log line keeps the format users of the old TensorFlow script know::

    epoch=0.53 step=1000, 40.9523 examples/sec lr=0.000100, loss=155.03, loss_ll_heat=30.5468

with a true epoch (samples seen / training set size) and losses averaged over the steps since the last line.
TensorBoard tags: ``train/loss``, ``train/loss_ll_heat``, ``train/loss_stage<s>``, ``train/lr``,
``train/examples_per_sec``, ``train/epoch``; ``val/<metric>`` and the images ``val/sample<i>``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
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


class _AboveBarHandler(logging.Handler):
    """Stands in for a terminal handler while a bar is shown: writes its records with ``tqdm.write``, which clears
    the bar, prints the line and redraws the bar below it (a plain write would land in the middle of the bar)."""

    def __init__(self, original: logging.StreamHandler) -> None:
        super().__init__(original.level)
        self.setFormatter(original.formatter)
        self.filters = list(original.filters)
        self.stream = original.stream

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:
            self.handleError(record)


def _terminal_handlers() -> list[tuple[logging.Logger, logging.Handler]]:
    """The handlers on handpose's logger and its ancestors that print to stdout or stderr (``basicConfig``'s)."""
    found: list[tuple[logging.Logger, logging.Handler]] = []
    logger: logging.Logger | None = logging.getLogger("handpose")
    while logger is not None:
        found += [(logger, h) for h in logger.handlers
                  if isinstance(h, logging.StreamHandler) and h.stream in (sys.stdout, sys.stderr)]
        logger = logger.parent if logger.propagate else None
    return found


@contextlib.contextmanager
def progress_bar(total: int, initial: int, enabled: bool) -> Iterator[Any]:
    """A tqdm bar over optimizer steps when ``enabled`` and stderr is a terminal, else None.

    While the bar is shown, log records bound for the terminal go through ``tqdm.write`` (above the bar, on the
    stream their handler had), and the handlers are put back when the bar closes.
    """
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    swapped = [(logger, h, _AboveBarHandler(h)) for logger, h in _terminal_handlers()]
    bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=True)
    for logger, original, stand_in in swapped:
        logger.removeHandler(original)
        logger.addHandler(stand_in)
    try:
        yield bar
    finally:
        bar.close()
        for logger, original, stand_in in swapped:
            logger.removeHandler(stand_in)
            logger.addHandler(original)


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
