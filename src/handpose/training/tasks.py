"""What the trainer trains: a task object holds what differs between the networks handpose trains.

The trainer (``training.trainer``) owns the loop, the schedule, checkpoints, logging and signals; a task owns its
data, its model, its loss, its validation and its pictures. ``keypoints`` trains the CPM on hand crops (this
module's :class:`KeypointTask`); ``detect`` trains the hand detector on whole images
(``detection.task.DetectTask``). ``TrainConfig.task`` picks one (``handpose train --task``).
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from handpose.config import TASKS, TrainConfig


class TrainTask(Protocol):
    """The hooks the trainer calls (see the module docstring)."""

    name: str
    loss_names: list[str]  # the loss's parts, in the order ``loss`` returns them
    headline: str  # the validation metric that picks best.safetensors
    scalar_keys: tuple[str, ...]  # metrics written to TensorBoard (empty: every finite number)
    summary_keys: tuple[str, ...]  # metrics kept in summary.json and best.json (empty: every finite number)
    metric_notes: str  # what each val/ scalar means, with its unit (TensorBoard's settings/metrics text)

    def prepare_data(self, cfg: TrainConfig, info: Any) -> tuple[Any, list, TrainConfig]: ...
    def build_model(self, cfg: TrainConfig) -> nn.Module: ...
    def initial_weights(self, model: nn.Module, path: str) -> None: ...
    def loss(self, outputs: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]: ...
    def validate(self, model: nn.Module, held_out: list, cfg: TrainConfig, device: Any) -> dict[str, Any]: ...
    def better(self, metrics: dict[str, Any], best: dict[str, Any] | None) -> bool: ...
    def pictures(self, model: nn.Module, held_out: list, cfg: TrainConfig, count: int) -> list[np.ndarray]: ...
    def describe(self, metrics: dict[str, Any]) -> str: ...
    def log_fields(self, means: list[float]) -> list[tuple[str, float]]: ...


def task_for(cfg: TrainConfig) -> TrainTask:
    """The task object of ``cfg.task``; ValueError naming the choices for another name."""
    if cfg.task == "keypoints":
        return KeypointTask(cfg.model.stages)
    if cfg.task == "detect":
        from handpose.detection.task import DetectTask

        return DetectTask()
    raise ValueError(f"--task {cfg.task!r}: choose one of {list(TASKS)}")


class KeypointTask:
    """The CPM on hand crops: belief-map loss at every stage, PCK / AUC / EPE validation (``handpose eval``'s)."""

    name = "keypoints"
    headline = "PCK@0.2"
    scalar_keys = ("PCK@0.2", "PCKh@0.7", "AUC", "EPE")
    summary_keys = ("PCK@0.2", "PCKh@0.7", "AUC", "EPE", "num_samples")
    metric_notes = ("- `val/PCK@0.2`: share of visible keypoints within 0.2 x max(w, h) of the ground-truth box, "
                    "the mean of the per-keypoint shares\n"
                    "- `val/PCKh@0.7`: the same within 0.7 x the head size (datasets that give one)\n"
                    "- `val/AUC`: mean PCK over the thresholds 0, 1.5, ..., 28.5 px\n"
                    "- `val/EPE`: mean distance in original-image pixels\n"
                    "- keypoints predicted in the held-out hands' ground-truth boxes, as `handpose eval` does")

    def __init__(self, stages: int) -> None:
        self.loss_names = [f"stage{s}" for s in range(1, stages + 1)]

    def prepare_data(self, cfg: TrainConfig, info: Any) -> tuple[Any, list, TrainConfig]:
        """The training HandDataset, the held-out samples and ``cfg`` with the data resolved."""
        from handpose.training.setup import prepare_data

        return prepare_data(cfg, info)

    def build_model(self, cfg: TrainConfig) -> nn.Module:
        """A fresh CPM of ``cfg.model``."""
        from handpose.model.cpm import build_model

        return build_model(cfg.model)

    def initial_weights(self, model: nn.Module, path: str) -> None:
        """``--init``: handpose weights of the same preset or foreign weights (``model.importers``)."""
        from handpose.training.setup import initial_weights

        initial_weights(model, path)

    def loss(self, outputs: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The masked L2 of every stage's maps (``training.losses.cpm_loss``): (total, per stage)."""
        from handpose.training.losses import cpm_loss

        device = outputs[0].device
        targets = batch["targets"].to(device, non_blocking=True)  # (B, 22, S/8, S/8)
        weights = batch["weights"].to(device, non_blocking=True)  # (B, 21)
        return cpm_loss(outputs, targets, weights)

    def validate(self, model: nn.Module, held_out: list, cfg: TrainConfig, device: Any) -> dict[str, Any]:
        """``handpose eval``'s metrics on the held-out samples."""
        from handpose.training.validation import validate

        return validate(model, held_out, cfg.dataset, cfg.batch_size, device)

    def better(self, metrics: dict[str, Any], best: dict[str, Any] | None) -> bool:
        """Higher PCK@0.2, ties broken by higher AUC."""
        from handpose.training.validation import better

        return better(metrics, best)

    def pictures(self, model: nn.Module, held_out: list, cfg: TrainConfig, count: int) -> list[np.ndarray]:
        """The ground truth beside every stage's belief maps, for the first ``count`` held-out samples."""
        from handpose.training.validation import validation_images

        return validation_images(model, held_out, cfg.dataset, count)

    def describe(self, metrics: dict[str, Any]) -> str:
        """One line of the headline metrics."""
        return (f"PCK@0.2={metrics['PCK@0.2']:.4f} AUC={metrics['AUC']:.4f} EPE={metrics['EPE']:.2f} px on "
                f"{metrics.get('num_samples', 0)} held-out samples")

    def log_fields(self, means: list[float]) -> list[tuple[str, float]]:
        """The log line's losses: the total and the last stage's (``loss_ll_heat``, as hand_detector_train logged)."""
        return [("loss", means[0]), ("loss_ll_heat", means[-1])]


def finite(value: Any) -> bool:
    """Whether ``value`` is a finite number (metrics may hold None or NaN)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
