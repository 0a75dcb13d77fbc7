"""Validation during training: metrics on the held-out split and belief-map pictures for TensorBoard.

Metrics come from ``handpose.evaluate.evaluate`` (the same crop, decode and metric code as ``handpose eval``), on
the validation samples only (never training images). Pictures: for the first few validation samples, the
evaluation crop with every stage's belief maps and the decoded skeleton (``viz.belief_map_figure``).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch

from handpose.config import DataConfig
from handpose.data.sample import Sample

LOG = logging.getLogger(__name__)


def better(metrics: dict[str, Any], best: dict[str, Any] | None) -> bool:
    """Whether ``metrics`` beat ``best``: higher PCK@0.2, ties broken by higher AUC."""
    pck = metrics.get("PCK@0.2", math.nan)
    if pck is None or not math.isfinite(pck):
        return False
    if best is None:
        return True
    key = (pck, metrics.get("AUC") or 0.0)
    return key > (best["PCK@0.2"], best.get("AUC") or 0.0)


def validate(model: torch.nn.Module, samples: list[Sample], data_cfg: DataConfig, batch_size: int,
             device: torch.device) -> dict[str, Any]:
    """``evaluate`` on the held-out ``samples`` (model restored to its previous train/eval mode)."""
    from handpose.evaluate import evaluate

    was_training = model.training
    try:
        return evaluate(model, samples, data_cfg, batch_size=batch_size, device=str(device))
    finally:
        model.train(was_training)


@torch.no_grad()
def validation_images(model: torch.nn.Module, samples: list[Sample], data_cfg: DataConfig, count: int,
                      device: torch.device) -> list[np.ndarray]:
    """RGB uint8 figures (image, every stage's belief maps, decoded skeleton) of the first ``count`` samples."""
    if count <= 0 or not samples:
        return []
    from dataclasses import replace

    from handpose.data.dataset import HandDataset
    from handpose.viz import belief_map_figure

    cfg = replace(data_cfg, augment=replace(data_cfg.augment, enabled=False))
    dataset = HandDataset(samples[:count], cfg, train=False)
    was_training = model.training
    model.eval()
    figures = []
    try:
        for i in range(len(dataset)):
            item = dataset[i]
            x = item["image"][None].to(device)  # (1, 3, S, S)
            maps = torch.stack([m[0].float() for m in model(x)]).cpu().numpy()  # (stages, 22, S/8, S/8)
            crop = np.clip((item["image"].numpy().transpose(1, 2, 0) + 0.5) * 256.0, 0, 255).astype(np.uint8)
            figures.append(belief_map_figure(crop, maps, stride=cfg.stride, panel_size=160))
    finally:
        model.train(was_training)
    return figures
