"""A whole image -> the detector's square input and back: one affine matrix, as ``data/transforms`` uses for crops.

The letterbox scales the image uniformly so its longer side fills ``size`` and centres it on a grey
(``PAD_VALUE``) square. Augmentation (training) adds a random zoom about a random point, a shift and a horizontal
flip, all folded into the same (2, 3) matrix ``M`` (original px -> input px; pixel centres at integers, as
``cv2.warpAffine``). Boxes move with :func:`transform_boxes`, which keeps them axis-aligned (no rotation here).

Shrinking by more than ~1.3x with a bilinear warp aliases (thin fingers flicker away), so the warp first
reduces the image with ``cv2.INTER_AREA`` and folds that exact reduction into the matrix (``data.resample``).
"""

from __future__ import annotations

import numpy as np

from handpose.data import transforms as T
from handpose.data.resample import warp_reduced


def letterbox_matrix(width: int, height: int, size: int) -> np.ndarray:
    """(2, 3) float64 original px -> input px: the longer side scaled to ``size``, the image centred."""
    s = float(size) / float(max(width, height))
    mid_in = (np.array([width, height], dtype=np.float64) - 1.0) / 2.0  # image centre (pixel centres at integers)
    mid_out = (size - 1) / 2.0
    M = np.zeros((2, 3), dtype=np.float64)
    M[0, 0] = M[1, 1] = s
    M[:, 2] = mid_out - s * mid_in
    return M


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(letterboxed (size, size, 3) uint8, matrix (2, 3) original px -> input px) of one BGR uint8 image."""
    h, w = image.shape[:2]
    M = letterbox_matrix(w, h, size)
    return warp_reduced(image, M, size), M


def augment_matrix(M: np.ndarray, size: int, zoom: float, shift: tuple[float, float], flip: bool) -> np.ndarray:
    """``M`` followed by a zoom about the input centre (``zoom`` > 1 enlarges hands), a shift in input px and an
    optional horizontal flip of the input square."""
    mid = (size - 1) / 2.0
    A = np.array([[zoom, 0.0, (1.0 - zoom) * mid + shift[0]], [0.0, zoom, (1.0 - zoom) * mid + shift[1]]])
    if flip:
        A[0] = -A[0]
        A[0, 2] += size - 1
    return compose(A, M)


def compose(A: np.ndarray, M: np.ndarray) -> np.ndarray:
    """The (2, 3) affine matrix of ``A`` after ``M``."""
    out = np.empty((2, 3), dtype=np.float64)
    out[:, :2] = A[:, :2] @ M[:, :2]
    out[:, 2] = A[:, :2] @ M[:, 2] + A[:, 2]
    return out


def transform_boxes(boxes: np.ndarray, M: np.ndarray) -> np.ndarray:
    """(N, 4) ``[x, y, w, h]`` through an axis-aligned (possibly mirrored) affine M -> (N, 4) float64 boxes."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    corners = np.stack([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)  # (N, 2, 2)
    moved = T.apply_affine(corners, M)  # (N, 2, 2)
    lo, hi = moved.min(axis=1), moved.max(axis=1)  # (N, 2)
    return np.concatenate([lo, hi - lo], axis=1)
