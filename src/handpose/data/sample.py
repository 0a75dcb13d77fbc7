"""`Sample`: the one representation of a labelled hand that every reader produces and every consumer takes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Sample:
    """One labelled hand in one image.

    Attributes:
        image_path: the image file on disk.
        keypoints: (21, 3) float32, ``[x, y, v]`` in original-image pixels (pixel centres at integer
            coordinates); ``v > 0`` means labelled and visible. CMU / OpenPose order (``keypoints.NAMES``).
        is_left: a left hand.
        box: (4,) float32 ``[x, y, w, h]`` ground-truth hand box in original pixels (the PCK normaliser is
            ``max(w, h)``); readers without a box use the tight box of the visible keypoints.
        head_size: the PCKh normaliser in pixels, where the dataset has one.
        key: a stable identifier relative to the dataset root (used for the train/validation split).
        negative: the box holds no hand (a hard negative, ``data.formats.negatives``): its keypoints are all
            unlabelled and training pushes every keypoint map towards 0 in its crop.
        side_known: the dataset says which hand it is. False (e.g. MMPose's COCO files of OneHand10K and CMU
            Panoptic, which carry no side): ``is_left`` is False, training crops the hand as it is, and evaluation
            of a model trained with left hands mirrored lets the network choose the side (both ways, the more
            confident kept), as ``handpose predict`` does for a box given without ``--left`` / ``--right``.
    """

    image_path: Path
    keypoints: np.ndarray
    is_left: bool = False
    box: np.ndarray | None = None
    head_size: float | None = None
    key: str = ""
    negative: bool = False
    side_known: bool = True
