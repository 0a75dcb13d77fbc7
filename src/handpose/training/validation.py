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
    """``evaluate`` on the held-out ``samples`` (model restored to its previous train/eval mode). When none of them
    could be read, the figures are NaN (a warning says why), not the 0 PCK and 0 px EPE of an empty sum: ``better``
    keeps no best weights on them."""
    from handpose.evaluate import evaluate

    was_training = model.training
    try:
        metrics = evaluate(model, samples, data_cfg, batch_size=batch_size, device=str(device))
    finally:
        model.train(was_training)
    if not metrics["num_samples"]:  # every held-out image was bad: nothing measured, so no figure and no best
        LOG.warning("validation: none of the %d held-out samples could be read (%s; e.g. %s): no metrics, and no "
                    "best.safetensors from this validation", len(samples), metrics["skipped"],
                    "; ".join(metrics["skipped_examples"]))
        for key in metrics:
            if key.startswith(("PCK", "AUC", "EPE")) and isinstance(metrics[key], float):
                metrics[key] = math.nan
    return metrics


def validation_images(model: torch.nn.Module, samples: list[Sample], data_cfg: DataConfig,
                      count: int) -> list[np.ndarray]:
    """RGB uint8 figures of the first ``count`` samples: the ground truth beside every stage's belief maps and the
    decoded skeleton, through the same Predictor (crop, network, decode) that evaluation and ``predict`` use."""
    if count <= 0 or not samples:
        return []
    from handpose.data.crop import sample_box
    from handpose.data.transforms import transform_keypoints
    from handpose.inference.predictor import Predictor
    from handpose.viz import belief_map_figure, with_ground_truth

    predictor = Predictor.from_model(model, data_cfg)
    figures = []
    for sample in samples[:count]:
        try:
            prepared = predictor.spec.prepare_file(sample.image_path, sample_box(sample), bool(sample.is_left))
        except (OSError, ValueError) as exc:  # a bad image is the dataset's to count; no picture for it
            LOG.debug("no validation picture for %s: %s", sample.image_path, exc)
            continue
        pred = predictor.predict_prepared([prepared], keep_maps=True)[0]
        figure = belief_map_figure(pred.crop, pred.stage_maps, pred.keypoints_in_crop(), stride=data_cfg.stride,
                                   panel_size=160, scores=pred.scores)
        truth = transform_keypoints(np.asarray(sample.keypoints, np.float64), pred.matrix)  # (21, 3) crop px
        figures.append(with_ground_truth(figure, pred.crop, truth))
    return figures
