"""`HandDataset`: a labelled hand -> a training (or evaluation) crop, its belief-map targets and its matrix.

One affine matrix per sample maps original pixels to the crop, from the one crop recipe (``data.crop.CropRecipe``,
which prediction uses too): the square hand box (``Sample.box`` padded by ``DataConfig.box_padding``), with random
scale, rotation, translation and flip when augmenting, and the mirror of left hands when
``DataConfig.mirror_left`` (OpenPose's convention); with ``AugmentConfig.edge_cut_prob``, a share of hands is first
cut off by a straight image edge (``data.edge_cut``). The image is resampled once through it (from a reduced JPEG
decode when the crop is much smaller than the image; the matrix is adjusted exactly), then colour jitter, with
``AugmentConfig.photo_aug_prob`` a poor camera's look (``data.photo_aug``) and blur are applied to the crop, and
the belief-map codec (``data.codec.HeatmapCodec``) gives targets and weights.

Randomness comes from ``numpy.random.default_rng((seed, epoch, index))``: an item depends on nothing else, so runs
are reproducible and resumable, and DataLoader workers need no seeding. ``set_epoch`` must be called before each
epoch; DataLoader workers copy the dataset when they start, so either use ``persistent_workers=False`` (the
default) for the epoch to reach them, or index ``training.sampler.EpochIndexed(dataset)`` with (epoch, index) pairs,
as training does (``training.data.train_loader``): each item then sets its own epoch inside the worker.

Bad images (missing, corrupt, truncated, over the pixel limit, a hand box wholly off its image or over 10 times its
longer side: a keypoint labelled far off it) are found when
loaded: the item is replaced by another sample drawn from the same random state, and the bad index is counted per
reason in ``self.skipped`` and never read again by that process (``data.replacement.BadImages``: each process
keeps its own count, warns at the first bad image of each reason and logs a summary when it exits).

Creating a HandDataset sets OpenCV to one thread in the calling process (``cv2.setNumThreads(1)``), as detectron2
and YOLOv5 do: the parallelism is the DataLoader workers, and changing OpenCV's thread count inside a forked worker
can deadlock.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import cv2
import numpy as np
import torch

from handpose.config import DataConfig
from handpose.data import images
from handpose.data import skip_report as R
from handpose.data import transforms as T
from handpose.data.codec import HeatmapCodec
from handpose.data.crop import MAX_BOX_TO_IMAGE, CropRecipe, box_dwarfs_image, box_misses_image, sample_box
from handpose.data.edge_cut import draw_cut, grey_past
from handpose.data.photo_aug import poor_camera
from handpose.data.replacement import MAX_REPLACEMENTS, BadImages, first_loadable
from handpose.data.resample import cut_crops
from handpose.data.sample import Sample
from handpose.data.skip_report import SkipReport
from handpose.keypoints import NUM_KEYPOINTS

LOG = logging.getLogger(__name__)



class _Strings:
    """Many byte strings in one numpy buffer (no per-item Python objects for forked workers to copy)."""

    def __init__(self, items: list[bytes]) -> None:
        self.offsets = np.cumsum([0] + [len(b) for b in items]).astype(np.int64)
        self.data = np.frombuffer(b"".join(items), dtype=np.uint8)

    def __getitem__(self, i: int) -> bytes:
        return self.data[self.offsets[i] : self.offsets[i + 1]].tobytes()


class HandDataset(torch.utils.data.Dataset):
    """Crops, targets and matrices of a list of samples (see the module docstring).

    Items are dicts of tensors: "image" (3, S_in, S_in) float32 network input, "targets" (22, S, S) float32,
    "weights" (21,) float32 (all 1 for a hard negative, whose keypoint maps are all 0: ``Sample.negative``),
    "matrix" (2, 3) float32 original px -> crop px, "keypoints" (21, 3) original px, "box" (4,) float32,
    "head_size" () float32 (nan when absent), "is_left" () bool, "index" () int64 (the sample actually returned,
    which differs from the requested index when that image was bad).
    Samples are stored as flat arrays (no per-sample Python objects), so forked workers do not copy them.
    """

    def __init__(self, samples: list[Sample], cfg: DataConfig, train: bool, seed: int = 0) -> None:
        if not samples:
            raise ValueError("HandDataset: no samples (the dataset split is empty)")
        self.cfg = cfg
        self.train = train
        self.seed = int(seed)
        self.epoch = 0
        self.augment = bool(train and cfg.augment.enabled)
        self.recipe = CropRecipe.from_config(cfg, train)
        self.codec = HeatmapCodec.from_config(cfg)
        self.keypoints = np.stack([np.asarray(s.keypoints, dtype=np.float32) for s in samples])  # (N, 21, 3)
        if self.keypoints.shape[1:] != (NUM_KEYPOINTS, 3):
            raise ValueError(f"HandDataset: keypoints must be (21, 3), got {self.keypoints.shape[1:]}")
        self.boxes = np.stack([sample_box(s) for s in samples]).astype(np.float32)  # (N, 4)
        self.head_sizes = np.array([np.nan if s.head_size is None else s.head_size for s in samples], np.float32)
        self.is_left = np.array([bool(s.is_left) for s in samples], dtype=bool)
        self.negative = np.array([bool(s.negative) for s in samples], dtype=bool)  # (N,) boxes holding no hand
        self.side_known = np.array([bool(s.side_known) for s in samples], dtype=bool)  # (N,) False: cropped as is
        if cfg.mirror_left and not self.side_known.all():
            LOG.info("%d of %d hands have no side in their dataset: cropped as they are, not mirrored",
                     int((~self.side_known).sum()), len(samples))
        self._paths = _Strings([os.fsencode(str(s.image_path)) for s in samples])
        self._keys = _Strings([s.key.encode("utf-8", "surrogateescape") for s in samples])
        self.bad = BadImages()
        if cv2.getNumThreads() != 1:
            # One OpenCV thread: DataLoader workers are the parallelism. This must happen here, in the parent:
            # changing it inside a forked worker can deadlock on the parent's thread-pool state (seen in tests).
            cv2.setNumThreads(1)

    def __setstate__(self, state: dict) -> None:
        """Unpickled in a spawn / forkserver DataLoader worker: a fresh process, so one OpenCV thread is safe to set."""
        self.__dict__.update(state)
        if cv2.getNumThreads() != 1:
            cv2.setNumThreads(1)

    # ------------------------------------------------------------------------------------------- bookkeeping

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation of this epoch (call before iterating; see the module docstring)."""
        self.epoch = int(epoch)

    def image_path(self, i: int) -> Path:
        return Path(os.fsdecode(self._paths[i]))

    def sample(self, i: int) -> Sample:
        """The i-th sample as a `Sample` (rebuilt from the stored arrays)."""
        h = float(self.head_sizes[i])
        return Sample(self.image_path(i), self.keypoints[i].copy(), bool(self.is_left[i]), self.boxes[i].copy(),
                      None if math.isnan(h) else h, self._keys[i].decode("utf-8", "surrogateescape"),
                      bool(self.negative[i]), bool(self.side_known[i]))

    def rng(self, index: int, attempt: int = 0) -> np.random.Generator:
        """The random state of one item in this epoch."""
        return np.random.default_rng((self.seed, self.epoch, int(index), attempt))

    @property
    def skipped(self) -> SkipReport:
        """This process's bad images, counted per reason."""
        return self.bad.report

    # ------------------------------------------------------------------------------------------- one item

    def crop_matrix(self, i: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """(2, 3) float64 original px -> crop px of sample i: the crop recipe, with augmentation when training."""
        return self.recipe.matrix(self.boxes[i], bool(self.is_left[i]), rng)

    def _load(self, i: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        kp = self.keypoints[i]
        cut = None
        if self.augment and cfg.augment.edge_cut_prob > 0 and not self.negative[i] \
                and rng.random() < cfg.augment.edge_cut_prob:
            cut = draw_cut(kp, rng)
        if cut is None:
            M = self.crop_matrix(i, rng)
        else:  # a hand cut by the image's edge, cropped around what is left of it (data.edge_cut)
            kp = cut[1].astype(np.float32)  # (21, 3) as every other item's: a batch keeps one dtype
            M = self.recipe.matrix(cut[2], bool(self.is_left[i]), rng)
        reduce = images.reduce_factor(M) if cfg.reduced_decode else 1
        img, factor = images.load_image(self.image_path(i), cfg.max_image_pixels, reduce)
        hw = (img.shape[0] * factor, img.shape[1] * factor)
        if box_misses_image(self.boxes[i], hw):
            raise images.ImageError(R.BAD_BOX, self.image_path(i), f"hand box {self.boxes[i].tolist()} lies outside "
                                    f"the image")
        if box_dwarfs_image(self.boxes[i], hw):
            raise images.ImageError(R.BAD_BOX, self.image_path(i), f"hand box {self.boxes[i].tolist()} is over "
                                    f"{MAX_BOX_TO_IMAGE:g}x the {hw[1]} x {hw[0]} image's longer side")
        crop = cut_crops(img, [M], [cfg.input_size], factor)[0]  # (S_in, S_in, 3) uint8
        if self.augment:
            a = cfg.augment
            crop = T.color_jitter(crop, a.color_jitter, rng)
            if a.photo_aug_prob > 0 and rng.random() < a.photo_aug_prob:  # no draw at 0: the same items as before
                crop = poor_camera(crop, rng)
            if a.blur_prob > 0 and rng.random() < a.blur_prob:
                crop = T.gaussian_blur(crop, rng.uniform(0.1, a.blur_max_sigma))
        if cut is not None:
            crop = grey_past(crop, M, cut[0])
        if self.negative[i]:  # no hand in this box: every keypoint map trained towards 0
            targets, weights = self.codec.absent()
        else:
            targets, weights = self.codec.encode(T.transform_keypoints(kp, M))
        return {
            "image": torch.from_numpy(T.to_network_input(crop)),  # (3, S_in, S_in)
            "targets": torch.from_numpy(targets),  # (22, S, S)
            "weights": torch.from_numpy(weights),  # (21,)
            "matrix": torch.from_numpy(M.astype(np.float32)),  # (2, 3)
            "keypoints": torch.from_numpy(kp.copy()),  # (21, 3); past an edge cut: not visible
            "box": torch.from_numpy(self.boxes[i].copy() if cut is None else cut[2]),  # (4,)
            "head_size": torch.tensor(self.head_sizes[i], dtype=torch.float32),
            "is_left": torch.tensor(bool(self.is_left[i])),
            "index": torch.tensor(i, dtype=torch.int64),
        }

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        n = len(self)
        index = int(index)
        if not 0 <= index < n:
            raise IndexError(f"HandDataset index {index} out of range [0, {n})")
        item = first_loadable(index, n, self.rng, self.bad.indexes, self._load, self.bad.record, MAX_REPLACEMENTS)
        if item is not None:
            return item
        raise RuntimeError(
            f"HandDataset: no loadable image after {MAX_REPLACEMENTS} tries from index {index} "
            f"(image {self.image_path(index)}, dataset images under {self._image_root()}); expected a readable JPEG, "
            f"PNG or BMP file of at most {self.cfg.max_image_pixels} pixels at each sample's image path\n"
            + self.skipped.summary("images")
        )

    def _image_root(self) -> str:
        """The folder holding every sample's image (for error messages; reads all paths)."""
        paths = [os.fsdecode(self._paths[i]) for i in range(len(self))]
        try:
            return os.path.commonpath([os.path.dirname(p) or "." for p in paths])
        except ValueError:  # absolute and relative paths mixed
            return os.path.dirname(paths[0]) or "."
