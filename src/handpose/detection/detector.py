"""`HandDetector`: whole BGR images -> the hands in them (box, score, left or right), in original pixels.

The one inference path of the detector, shared by evaluation, training's validation and (once wired) the
Predictor's detect -> crop -> keypoints pipeline: letterbox (``detection/letterbox``), network, decode
(``detection/codec``: 3x3 max-pool peaks, top ``max_hands``, threshold, overlap suppression).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from handpose.config import DetectorConfig
from handpose.data import transforms as T
from handpose.detection.codec import BoxCodec, Boxes
from handpose.detection.letterbox import letterbox_matrix, resample


@dataclass
class Detection:
    """One hand: ``box`` (4,) ``[x, y, w, h]`` original px, ``score`` hand probability, ``is_left`` and the
    left-hand probability ``left_score``.

    After keypoint refinement (``inference/refine``): ``crop_box`` the box the keypoint network's crop is cut from
    (the keypoints' own box; None: ``box``), ``score`` the keypoint network's verdict, ``detector_score`` the
    detector's own probability (None: ``score`` is the detector's) and ``side_settled`` True: ``is_left`` is the
    keypoint network's call where the detector could not tell, not to be asked again."""

    box: np.ndarray
    score: float
    is_left: bool
    left_score: float
    crop_box: np.ndarray | None = None
    detector_score: float | None = None
    side_settled: bool = False


def as_detections(found: Boxes) -> list[Detection]:
    """A decoded image's boxes as a list of :class:`Detection`, best first."""
    return [Detection(found.boxes[i].astype(np.float64), float(found.scores[i]), bool(found.left[i] > 0.5),
                      float(found.left[i])) for i in range(len(found))]


class HandDetector:
    """A detector network with its decoding settings; ``threshold`` and ``max_hands`` default to the config's."""

    def __init__(self, model: nn.Module, threshold: float | None = None, max_hands: int | None = None,
                 device: str | torch.device = "cpu") -> None:
        cfg = getattr(model, "config", None)
        if not isinstance(cfg, DetectorConfig):
            raise ValueError(f"HandDetector needs a hand detector network (config DetectorConfig), got "
                             f"{type(model).__name__} with {type(cfg).__name__}")
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.config = cfg
        self.threshold = float(cfg.score_threshold if threshold is None else threshold)
        self.codec = BoxCodec(cfg.input_size, cfg.stride, int(max_hands or cfg.max_hands), cfg.nms_iou)

    @classmethod
    def from_file(cls, path: str | Path, threshold: float | None = None, max_hands: int | None = None,
                  device: str | torch.device = "cpu") -> HandDetector:
        """A detector from a weights file; ValueError naming the file when it holds a keypoint model."""
        from handpose.model.artifact import TASK_DETECT, load_model

        return cls(load_model(path, task=TASK_DETECT), threshold, max_hands, device)

    @classmethod
    def from_model(cls, model: nn.Module, threshold: float | None = None, max_hands: int | None = None,
                   device: str | torch.device | None = None) -> HandDetector:
        """A detector around an in-memory network (on the network's own device unless told)."""
        if device is None:
            first = next(model.parameters(), None)
            device = first.device if first is not None else "cpu"
        return cls(model, threshold, max_hands, device)

    @property
    def input_size(self) -> int:
        return int(self.config.input_size)

    def prepare(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        """(letterboxed (S, S, 3) uint8, matrix (2, 3) original px -> input px, (width, height)) of one image."""
        img = np.asarray(image_bgr)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or img.shape[0] < 1 or img.shape[1] < 1:
            raise ValueError(f"HandDetector.detect: expected a BGR uint8 image (H, W, 3), got {img.dtype} "
                             f"{img.shape}")
        h, w = img.shape[:2]
        M = letterbox_matrix(w, h, self.input_size)
        return resample(img, M, self.input_size), M, (w, h)

    @torch.inference_mode()
    def run(self, letterboxed: np.ndarray, matrices: np.ndarray, sizes: list[tuple[int, int]],
            threshold: float | None = None) -> list[Boxes]:
        """Letterboxed images (N, S, S, 3) uint8 with their matrices (N, 2, 3) and sizes -> decoded boxes each."""
        x = torch.from_numpy(T.to_network_input(letterboxed)).to(self.device)  # (N, 3, S, S)
        outputs = self.model(x)  # each (N, C, S/4, S/4)
        return self.codec.decode(outputs, matrices, sizes, self.threshold if threshold is None else threshold)

    def detect_batch(self, images_bgr: list[np.ndarray], threshold: float | None = None) -> list[list[Detection]]:
        """Hands of each image, best first."""
        if not images_bgr:
            return []
        prepared = [self.prepare(im) for im in images_bgr]
        found = self.run(np.stack([p[0] for p in prepared]), np.stack([p[1] for p in prepared]),
                         [p[2] for p in prepared], threshold)
        return [as_detections(f) for f in found]

    def detect(self, image_bgr: np.ndarray, threshold: float | None = None) -> list[Detection]:
        """Hands of one BGR uint8 image, best first."""
        return self.detect_batch([image_bgr], threshold)[0]
