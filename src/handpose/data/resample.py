"""Warps that do not alias: an image shrunk by a warp is averaged first, never read by a bilinear warp that takes 4
of every ``1 / zoom^2`` pixels. Two rules, each the one its network was trained with:

- :func:`cut_crops`, the keypoint model's crops: block averages of 2, 4 or 8 pixels a side, as a large JPEG decoded
  at that fraction gives them (libjpeg's DCT scaling). Training, evaluation and prediction cut their crops here, so
  a hand reads the same whichever way its image arrived (a file, a JPEG decoded at a reduced size, an array).
- :func:`warp_reduced`, the detector's letterbox: the whole image averaged down to the warp's own scale
  (``cv2.INTER_AREA``) wherever it shrinks below 0.75.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from handpose.data.images import reduce_factor, reduced_matrix
from handpose.data.transforms import warp

AREA_REDUCE_BELOW = 0.75  # warp_reduced shrinks the whole image with INTER_AREA first below this zoom


def cut_crops(image: np.ndarray, mats: Sequence[np.ndarray], sizes: Sequence[int], decoded: int = 1
              ) -> list[np.ndarray]:
    """The crops (side ``sizes[i]``, BGR uint8) of ``mats`` (original px -> crop px) from ``image``, an image
    decoded at 1/``decoded`` of its size. Where the finest crop still shrinks the image 2x or more, its region is
    block-averaged first (:func:`shrunk_region`)."""
    warps = [reduced_matrix(np.asarray(M, np.float64), decoded) for M in mats]
    factor = reduce_factor(warps[int(np.argmax(sizes))])
    if factor > 1:
        image, warps = shrunk_region(image, warps, sizes, factor)
    return [warp(image, M, size) for M, size in zip(warps, sizes)]


def shrunk_region(image: np.ndarray, mats: Sequence[np.ndarray], sizes: Sequence[int], factor: int
                  ) -> tuple[np.ndarray, list[np.ndarray]]:
    """The part of ``image`` the crops of ``mats`` (image px -> crop px, sides ``sizes``) cover, averaged over
    ``factor`` x ``factor`` blocks aligned with the image's corner (``cv2.INTER_AREA``; a partial block at the right or
    bottom edge repeats its edge pixels, as a JPEG decoded at 1/factor does), and the matrices from its pixels to the
    crops (``image`` and ``mats`` unchanged when the crops cover none of it)."""
    h, w = image.shape[:2]
    corners = []
    for M, size in zip(mats, sizes):
        inv = cv2.invertAffineTransform(np.asarray(M, np.float64))  # (2, 3) crop px -> image px
        square = np.array([[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1]], np.float64)  # (4, 2)
        corners.append(square @ inv[:, :2].T + inv[:, 2])
    pts = np.concatenate(corners)  # (4 * crops, 2)
    x0 = max(0, (int(math.floor(pts[:, 0].min())) // factor - 1) * factor)  # block-aligned with the whole image
    y0 = max(0, (int(math.floor(pts[:, 1].min())) // factor - 1) * factor)
    x1 = min(w, int(math.ceil(pts[:, 0].max())) + 2 * factor)
    y1 = min(h, int(math.ceil(pts[:, 1].max())) + 2 * factor)
    cols, rows = -(-(x1 - x0) // factor), -(-(y1 - y0) // factor)  # blocks, the last one at an image edge partial
    if x1 <= x0 or y1 <= y0:
        return image, list(mats)
    region = image[y0:y1, x0:x1]
    if cols * factor != x1 - x0 or rows * factor != y1 - y0:  # a partial block: its edge pixels repeated, as libjpeg
        region = cv2.copyMakeBorder(region, 0, rows * factor - (y1 - y0), 0, cols * factor - (x1 - x0),
                                    cv2.BORDER_REPLICATE)
    small = cv2.resize(region, (cols, rows), interpolation=cv2.INTER_AREA)  # (rows, cols, C)
    out = []
    for M in mats:
        moved = np.array(M, np.float64)
        moved[:, 2] += moved[:, :2] @ np.array([x0, y0], np.float64)  # region px -> crop px
        out.append(reduced_matrix(moved, factor))  # block px -> crop px
    return small, out


def warp_reduced(image: np.ndarray, M: np.ndarray, size: int) -> np.ndarray:
    """``image`` (H, W, 3) BGR uint8 warped through M into (size, size, 3); area-reduced first when M shrinks."""
    zoom = float(np.sqrt(abs(np.linalg.det(M[:, :2]))))  # output px per image px
    h, w = image.shape[:2]
    if zoom < AREA_REDUCE_BELOW:
        rw, rh = max(1, round(w * zoom)), max(1, round(h * zoom))
        small = cv2.resize(image, (rw, rh), interpolation=cv2.INTER_AREA)
        fx, fy = rw / w, rh / h
        # reduced px -> image px (INTER_AREA: x_small = (x + 0.5) * f - 0.5), then M
        reduced_to_image = np.array([[1.0 / fx, 0.0, 0.5 / fx - 0.5], [0.0, 1.0 / fy, 0.5 / fy - 0.5]])
        composed = np.empty((2, 3), dtype=np.float64)
        composed[:, :2] = M[:, :2] @ reduced_to_image[:, :2]
        composed[:, 2] = M[:, :2] @ reduced_to_image[:, 2] + M[:, 2]
        return warp(small, composed, size)
    return warp(image, M, size)
