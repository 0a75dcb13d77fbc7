"""`DetectTask`: what the shared trainer (``training/trainer.py``) calls to train the hand detector.

The trainer owns the loop (steps, schedule, checkpoints, logging); a task owns what differs between networks:
its data, its model, its loss and its validation. This one reads a COCO json of hand boxes (``--data``: e.g. the
``hands_coco.json`` of ``handpose synth --scenes``), trains :class:`~handpose.detection.model.HandDetectorNet`
built from ``TrainConfig.detector`` with :func:`~handpose.detection.loss.detection_loss`, and validates with
COCO-style AP on the held-out images; ``headline`` (AP@0.5) picks ``best.safetensors``.

Batches are dicts of tensors (``detection/dataset.py``): "image" (B, 3, S, S) in handpose's input convention and
the codec's targets; the loss moves the targets to the outputs' device itself.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from handpose.config import TrainConfig
from handpose.config_checks import check_config
from handpose.data import images
from handpose.data.skip_report import SkipReport
from handpose.detection.coco import DetectionImage, read_detection_images, split_images
from handpose.detection.dataset import DetectionDataset
from handpose.detection.detector import HandDetector
from handpose.detection.draw import draw_detections
from handpose.detection.evaluate import EVAL_THRESHOLD, detect_images
from handpose.detection.loss import LOSS_NAMES, detection_loss
from handpose.detection.metrics import detection_metrics
from handpose.detection.model import build_detector
from handpose.training.held_out import FEW_HANDS, warn_if_few
from handpose.words import counted

LOG = logging.getLogger(__name__)


def _why_none_held_out(cfg: TrainConfig, items: list[DetectionImage]) -> str:
    """Why the split of ``items`` held out no image, and what to do, for the warning that no validation runs."""
    if cfg.dataset.val_fraction <= 0:
        return "--val-fraction 0 holds none out"
    if cfg.split_rule < 2 and all(im.split == "train" for im in items):
        return ("the run started under the split rule of before 2026-12-07, when a json named for training held "
                "nothing out, and resumes on it; a new run (another --out, or --overwrite) holds out its "
                "--val-fraction share")
    return ("the hash split held out none of its few images; raise --val-fraction, or give a folder with a val/test "
            "json beside it")


def _why_no_training(cfg: TrainConfig, val: list[DetectionImage]) -> str:
    """The error for a split that left no training image: a json named for val or test takes all its images (the
    usual cause: MMPose's and COCO's names, ``*_test.json``), the hash split the images of a json named otherwise."""
    own = sum(im.split == "val" for im in val)
    if own == len(val):
        return (f"{cfg.data}: no training images: all {len(val)} are in a json whose name holds val or test, which "
                "training holds out whole; give a json of your training images named without val or test (beside "
                "it, a val or test json is held out)")
    return (f"{cfg.data}: no training images: all {len(val)} are held out ({own} by a json named for val or test, "
            f"{len(val) - own} by the hash split of --val-fraction {cfg.dataset.val_fraction:g}); lower "
            "--val-fraction or add images")


def _sides_of(items: list[DetectionImage]) -> str:
    """"11 hands: 6 left, 5 right", with the hands of no side named, which do not train the left/right output."""
    left = sum(int((im.is_left & im.left_known).sum()) for im in items)
    right = sum(int((~im.is_left & im.left_known).sum()) for im in items)
    unknown = sum(im.num_hands for im in items) - left - right
    total = left + right + unknown
    unsided = (f"of no side in the dataset (no is_left, handedness or side category), which "
               f"{'does' if unknown == 1 else 'do'} not train the detector's left/right output")
    if not unknown:
        return f"{total} hands: {left} left, {right} right"
    if unknown == total:
        return f"{counted(total, 'hand')}, {'it' if total == 1 else 'all'} {unsided}"
    return f"{total} hands: {left} left, {right} right, {unknown} {unsided}"


class DetectTask:
    """Training hooks of the hand detector (see the module docstring)."""

    name = "detect"
    loss_names: list[str] = list(LOSS_NAMES)
    headline: str = "AP@0.5"
    scalar_keys: tuple[str, ...] = ()  # every finite metric
    summary_keys: tuple[str, ...] = ("AP@0.5", "AP@0.5:0.95", "recall@1FP", "num_images", "num_hands")
    metric_notes: str = ("- `val/AP@0.5`, `val/AP@0.5:0.95`: COCO-style AP (101-point) at IoU 0.5 and averaged over "
                         "0.5:0.95, the detector at its input size alone (scale 1)\n"
                         "- `val/recall@1FP`: share of hands found at the score threshold of 1 false positive per "
                         "image\n"
                         "- `/small`, `/medium`, `/large`: hands under 32 px, 32 up to 96 px, 96 px and over (the "
                         "box's longer side)\n"
                         "- `val/handedness`: share of found hands (IoU 0.5) whose left or right is told correctly "
                         "(hands of unknown side left out)\n"
                         "- `val/num_images`, `val/num_hands`: the held-out images and their hands")

    def __init__(self) -> None:
        self._said_skipped = False  # unreadable held-out images are logged at the first validation only

    def prepare_data(self, cfg: TrainConfig, info: Any = None) -> tuple[DetectionDataset, list[DetectionImage],
                                                                          TrainConfig]:
        """The training set, the held-out images and ``cfg`` with the data path resolved."""
        check_config(cfg.detector, "detector settings")
        if cfg.data is None:
            raise ValueError("--task detect needs --data: a COCO json of hand boxes (or a folder of them), e.g. the "
                             "hands_coco.json written by `handpose synth --scenes`")
        items = read_detection_images(cfg.data)
        train, val = split_images(items, cfg.dataset.val_fraction, cfg.split_rule)
        if not train:
            raise ValueError(_why_no_training(cfg, val))
        part_hands = sum(im.num_hands for im in val)  # the held-out part itself, whatever --val-limit scores
        small = part_hands < FEW_HANDS
        val = val if cfg.val_limit is None else val[: cfg.val_limit]
        if not val and cfg.val_every > 0 and (info is None or info.rank == 0):
            why = _why_none_held_out(cfg, items)
            LOG.warning("%s: no image is held out for validation, so no validation runs and no best.safetensors is "
                        "written (%s)", cfg.data, why)
        elif cfg.val_every > 0 and (info is None or info.rank == 0) and not sum(im.num_hands for im in val):
            LOG.warning("%s: the %s held out for validation %s no hand, so validation has no AP to measure and no "
                        "best.safetensors is written; %s", cfg.data, counted(len(val), "image"),
                        "holds" if len(val) == 1 else "hold",
                        f"raise --val-limit (the held-out part has {part_hands} hands)" if part_hands else
                        f"hold more out (--val-fraction, now {cfg.dataset.val_fraction:g}), or give a json named for "
                        "val or test with hands beside the training one")
        elif cfg.val_every > 0 and (info is None or info.rank == 0) and (cfg.val_limit is None or small):
            warn_if_few(str(cfg.data), sum(im.num_hands for im in val), cfg.dataset.val_fraction,
                        f"in {len(val)} image{'' if len(val) == 1 else 's'}", metric=self.headline)
        dataset = DetectionDataset(train, cfg.detector, cfg.dataset, train=True, seed=cfg.seed)
        LOG.info("detection data %s: %d training images (%s), %d held-out images (%d hands)", cfg.data,
                 len(train), _sides_of(train), len(val), sum(im.num_hands for im in val))
        return dataset, val, dataclasses.replace(cfg, data=str(cfg.data), data_format="coco")

    def initial_weights(self, model: nn.Module, path: str) -> None:
        """``--init``: a handpose detector file of the same architecture, or a keypoint model with a MobileNet
        front (e.g. ``pretrained:lite``), whose stem and units start the detector's backbone
        (``detection/backbone_transfer.py``)."""
        from handpose import pretrained
        from handpose.detection.backbone_transfer import detector_units, transfer_backbone
        from handpose.model import artifact

        if artifact.read_task(pretrained.resolve(path)) == artifact.TASK_KEYPOINTS:
            units = transfer_backbone(model, artifact.load_model(path, task=artifact.TASK_KEYPOINTS))
            LOG.info("initial weights: %d of the detector's %d backbone units (stem included) from the keypoint "
                     "model %s, the rest fresh", units, len(detector_units(model)), path)
            return
        source = artifact.load_model(path, task="detect")
        artifact.load_state_strict(model, source.state_dict(), source=str(path))
        LOG.info("initial weights from %s", path)

    def describe(self, metrics: dict[str, Any]) -> str:
        """One line of the headline metrics."""
        def get(key: str) -> float:
            return float(metrics.get(key, math.nan))

        return (f"AP@0.5={get('AP@0.5'):.4f} AP@0.5:0.95={get('AP@0.5:0.95'):.4f} recall@1FP={get('recall@1FP'):.4f} "
                f"on {int(metrics.get('num_images', 0))} held-out images ({int(metrics.get('num_hands', 0))} hands)")

    def log_fields(self, means: list[float]) -> list[tuple[str, float]]:
        """The log line's losses: the total and each part."""
        return [("loss", means[0])] + list(zip(self.loss_names, means[1:]))

    def build_model(self, cfg: TrainConfig) -> nn.Module:
        """A fresh detector from ``cfg.detector`` (``module.config`` is that DetectorConfig)."""
        return build_detector(cfg.detector)

    def loss(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor,
                                                                                            list[torch.Tensor]]:
        """(total, parts in ``loss_names`` order)."""
        return detection_loss(outputs, batch)

    def validate(self, model: nn.Module, held_out: list[DetectionImage], cfg: TrainConfig,
                 device: torch.device | str) -> dict[str, float]:
        """AP@0.5 (the headline), AP@0.5:0.95, recall@1FP, handedness, per size; the model's mode is restored."""
        was_training = model.training
        try:
            detector = HandDetector.from_model(model, device=device)
            skipped = SkipReport()
            results = detect_images(detector, held_out, cfg.batch_size, EVAL_THRESHOLD, skipped,
                                    max_pixels=cfg.dataset.max_image_pixels)
            if skipped.total and not self._said_skipped:  # the same images fail at every validation: said once
                skipped.log("held-out images (left out of every validation)", LOG)
                self._said_skipped = True
            return detection_metrics(results)
        finally:
            model.train(was_training)

    def better(self, metrics: dict[str, Any], best: dict[str, Any] | None) -> bool:
        """Whether ``metrics`` beat ``best`` on the headline (ties broken by AP@0.5:0.95)."""
        value = metrics.get(self.headline, math.nan)
        if value is None or not math.isfinite(value):
            return False
        if best is None:
            return True
        return (value, metrics.get("AP@0.5:0.95") or 0.0) > (best[self.headline], best.get("AP@0.5:0.95") or 0.0)

    def pictures(self, model: nn.Module, held_out: list[DetectionImage], cfg: TrainConfig,
                 count: int) -> list[np.ndarray]:
        """RGB uint8 pictures of the first ``count`` held-out images: detections (score >= the config's
        threshold) and the ground truth in green."""
        if count <= 0 or not held_out:
            return []
        was_training = model.training
        try:
            detector = HandDetector.from_model(model)
            pictures = []
            for item in held_out[:count]:
                try:
                    net, M, size = detector.prepare(images.load_image(item.path, cfg.dataset.max_image_pixels)[0])
                except images.ImageError as err:  # the dataset's to count; no picture for it
                    LOG.debug("no validation picture for %s: %s", item.path, err)
                    continue
                found = detector.run(net[None], M[None], [size])[0]
                pictures.append(draw_detections(net, M, found, item.boxes))
            return pictures
        finally:
            model.train(was_training)
