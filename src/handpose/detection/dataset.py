"""`DetectionDataset`: a whole image with its hand boxes -> the letterboxed network input and the codec's targets.

Each item is one image, letterboxed to ``DetectorConfig.input_size`` (``detection/letterbox``). When training
with augmentation on (``DataConfig.augment``): a random zoom in ``[scale_min, scale_max]`` (uniform in log scale),
a shift of up to ``translate`` of the input side, a horizontal flip with ``flip_prob`` that also swaps left and
right hands, then colour jitter, a poor camera's look with ``photo_aug_prob`` (``data.photo_aug``, on the whole
letterboxed input) and blur as ``data/dataset.py`` does. ``rotation_deg`` is not used: a rotated box
is not the box of the rotated hand.

Randomness comes from ``numpy.random.default_rng((seed, epoch, index, attempt))``, so an item depends on nothing
else (as ``HandDataset``; ``set_epoch`` before each epoch, or ``training.sampler.EpochIndexed``). Bad images
(missing, corrupt, truncated, over the pixel limit) are counted per reason in ``self.skipped``, never read again by
that process, and replaced by another image drawn from the item's random state; each process warns at its first
bad image of each reason and logs a summary when it exits (``data.replacement.BadImages``).

Items are dicts of tensors: "image" (3, S, S) float32 network input (``to_network_input``), the codec's targets
("heatmap" (1, S/4, S/4), "index" (K,), "size" (K, 2), "offset" (K, 2), "left" (K,), "mask" (K,), "left_mask"
(K,)), "matrix" (2, 3) float32 original px -> input px, "image_size" (2,) int64 width, height, "index_image" ()
int64 (the image actually returned).
"""

from __future__ import annotations

import logging
import math

import cv2
import numpy as np
import torch

from handpose.config import DataConfig, DetectorConfig
from handpose.data import images
from handpose.data import transforms as T
from handpose.data.photo_aug import poor_camera
from handpose.data.replacement import MAX_REPLACEMENTS, BadImages, first_loadable
from handpose.data.resample import warp_reduced
from handpose.data.skip_report import SkipReport
from handpose.detection.coco import DetectionImage
from handpose.detection.codec import BoxCodec
from handpose.detection.letterbox import augment_matrix, letterbox_matrix, transform_boxes

LOG = logging.getLogger(__name__)



class DetectionDataset(torch.utils.data.Dataset):
    """Letterboxed images and box targets of a list of :class:`DetectionImage` (see the module docstring)."""

    def __init__(self, items: list[DetectionImage], detector: DetectorConfig, data: DataConfig, train: bool,
                 seed: int = 0) -> None:
        if not items:
            raise ValueError("DetectionDataset: no images (the dataset split is empty)")
        self.items = items
        self.detector = detector
        self.data = data
        self.train = train
        self.augment = bool(train and data.augment.enabled)
        self.seed = int(seed)
        self.epoch = 0
        self.codec = BoxCodec.from_config(detector)
        self.bad = BadImages()
        if cv2.getNumThreads() != 1:  # the DataLoader workers are the parallelism (see data/dataset.py)
            cv2.setNumThreads(1)

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def rng(self, index: int, attempt: int = 0) -> np.random.Generator:
        return np.random.default_rng((self.seed, self.epoch, int(index), attempt))

    def matrix(self, width: int, height: int, rng: np.random.Generator | None) -> tuple[np.ndarray, bool]:
        """(2, 3) original px -> input px and whether it flips: the letterbox, randomised when augmenting."""
        size = self.detector.input_size
        M = letterbox_matrix(width, height, size)
        if not self.augment or rng is None:
            return M, False
        a = self.data.augment
        zoom = math.exp(rng.uniform(math.log(a.scale_min), math.log(a.scale_max)))
        shift = tuple(rng.uniform(-a.translate, a.translate, size=2) * size)
        flip = bool(rng.random() < a.flip_prob)
        return augment_matrix(M, size, zoom, shift, flip), flip

    def _load(self, i: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        item = self.items[i]
        img, _ = images.load_image(item.path, self.data.max_image_pixels)
        h, w = img.shape[:2]
        M, flip = self.matrix(w, h, rng)
        size = self.detector.input_size
        net = warp_reduced(img, M, size)  # (S, S, 3) uint8
        if self.augment:
            a = self.data.augment
            net = T.color_jitter(net, a.color_jitter, rng)
            if a.photo_aug_prob > 0 and rng.random() < a.photo_aug_prob:  # no draw at 0: the same items as before
                net = poor_camera(net, rng)
            if a.blur_prob > 0 and rng.random() < a.blur_prob:
                net = T.gaussian_blur(net, rng.uniform(0.1, a.blur_max_sigma))
        boxes = transform_boxes(item.boxes, M)  # (N, 4) input px
        is_left = item.is_left ^ flip  # a mirrored left hand looks like a right hand
        targets = self.codec.encode(boxes, is_left, item.left_known)
        out = {k: torch.from_numpy(v) for k, v in targets.items()}
        out["image"] = torch.from_numpy(T.to_network_input(net))  # (3, S, S)
        out["matrix"] = torch.from_numpy(M.astype(np.float32))  # (2, 3)
        out["image_size"] = torch.tensor([w, h], dtype=torch.int64)
        out["index_image"] = torch.tensor(i, dtype=torch.int64)
        return out

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        n = len(self)
        index = int(index)
        if not 0 <= index < n:
            raise IndexError(f"DetectionDataset index {index} out of range [0, {n})")
        item = first_loadable(index, n, self.rng, self.bad.indexes, self._load, self.bad.record, MAX_REPLACEMENTS)
        if item is not None:
            return item
        raise RuntimeError(f"DetectionDataset: no loadable image after {MAX_REPLACEMENTS} tries from index {index} "
                           f"(image {self.items[index].path}); expected readable JPEG, PNG or BMP files of at most "
                           f"{self.data.max_image_pixels} pixels\n" + self.skipped.summary("images"))

    @property
    def skipped(self) -> SkipReport:
        """This process's bad images, counted per reason."""
        return self.bad.report
