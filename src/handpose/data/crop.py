"""The one crop recipe: a labelled hand (or a given box) -> the affine matrix of its network crop.

Training, evaluation and prediction all cut hands with a :class:`CropRecipe` built once from the ``DataConfig``,
so a model always sees at test time the crop it was trained on. The recipe: the square of side
``box_padding * max(w, h)`` around the box's centre, mirrored left-right for a left hand when the model was
trained that way (``mirror_left``), and, in training only, a random scale, rotation, shift and flip drawn from
the ``AugmentConfig``. With augmentation off (evaluation, prediction) the matrix is the deterministic one.
The matrix maps original-image pixels to crop pixels (see ``transforms.crop_matrix``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from handpose.config import AugmentConfig, DataConfig
from handpose.data.transforms import crop_matrix, square_box, visible_box


def sample_box(sample: Any) -> np.ndarray:
    """(4,) float32 ``[x, y, w, h]``: a labelled sample's own box, else the tight box of its visible keypoints.

    ValueError naming the sample when it has neither."""
    if sample.box is not None:
        return np.asarray(sample.box, dtype=np.float32)
    box = visible_box(sample.keypoints)
    if box is None:
        raise ValueError(f"sample {sample.key or sample.image_path} has no box and no visible keypoint")
    return box


@dataclass(frozen=True)
class CropRecipe:
    """How a hand box becomes a crop matrix (plain data, picklable for data-loader workers).

    ``augment`` is None for evaluation and prediction; training passes its ``AugmentConfig`` and a random state.
    """

    input_size: int = 368
    box_padding: float = 1.5
    mirror_left: bool = False
    augment: AugmentConfig | None = None

    @classmethod
    def from_config(cls, cfg: DataConfig, train: bool = False) -> CropRecipe:
        """The recipe of a data config; ``train`` adds its augmentation when it is enabled."""
        augment = cfg.augment if train and cfg.augment.enabled else None
        return cls(int(cfg.input_size), float(cfg.box_padding), bool(cfg.mirror_left), augment)

    def matrix(
        self,
        box: Sequence[float] | np.ndarray,
        is_left: bool = False,
        rng: np.random.Generator | None = None,
        size: int | None = None,
    ) -> np.ndarray:
        """(2, 3) float64 original px -> crop px of the hand in ``box`` (``[x, y, w, h]``).

        ``rng`` draws the augmentation (ignored when the recipe has none); ``size`` is the crop side (default
        ``input_size``; test-time scales cut the same square at other sizes)."""
        out = int(self.input_size if size is None else size)
        center, side = square_box(box, self.box_padding)
        flip = bool(self.mirror_left and is_left)
        a = self.augment
        if rng is None or a is None:
            return crop_matrix(center, side, out, flip=flip)
        scale = rng.uniform(a.scale_min, a.scale_max)
        rotation = rng.uniform(-a.rotation_deg, a.rotation_deg)
        shift = rng.uniform(-a.translate, a.translate, size=2) * side
        if rng.random() < a.flip_prob:
            flip = not flip
        return crop_matrix(center, side, out, rotation, flip, scale, shift)

    def whole_image_matrix(self, image_hw: tuple[int, int], size: int | None = None, is_left: bool = False
                           ) -> np.ndarray:
        """(2, 3) the whole image as the crop: its longer side fills the crop, centred, grey borders elsewhere;
        mirrored for a left hand as :meth:`matrix` mirrors it."""
        h, w = image_hw
        center = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
        return crop_matrix(center, float(max(w, h)), int(self.input_size if size is None else size),
                           flip=bool(self.mirror_left and is_left))


MAX_BOX_TO_IMAGE = 10.0  # a hand box side beyond this many times the image's longer side is a broken label


def box_dwarfs_image(box: np.ndarray, image_hw: tuple[int, int]) -> bool:
    """Whether a side of ``[x, y, w, h]`` is over ``MAX_BOX_TO_IMAGE`` times the longer side of an image of
    ``image_hw``: a box from a keypoint labelled far off its image (``y = 1e7``) or a broken bbox, whose crop would
    shrink the hand to nothing and whose pixel errors would swamp every other hand's."""
    h, w = image_hw
    return max(float(box[2]), float(box[3])) > MAX_BOX_TO_IMAGE * max(h, w)


def box_misses_image(box: np.ndarray, image_hw: tuple[int, int]) -> bool:
    """Whether ``[x, y, w, h]`` lies wholly outside an image of ``image_hw`` (no pixel of it on the image)."""
    x, y, bw, bh = (float(v) for v in box)
    h, w = image_hw
    return x >= w or y >= h or x + bw <= 0 or y + bh <= 0
