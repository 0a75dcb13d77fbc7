"""Box arithmetic of the tracker, on single ``[x, y, w, h]`` boxes in pixels: overlap, nesting, union, the frame's
edges a box reaches, and the box a track follows to the next frame (the tight box of its confident keypoints)."""

from __future__ import annotations

import numpy as np

from handpose.detection.metrics import box_iou as box_iou_matrix
from handpose.detection.metrics import smaller_cover


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``[x, y, w, h]`` boxes (the detector's metric, ``detection.metrics``)."""
    return float(box_iou_matrix(a, b)[0, 0])


def box_cover(a: np.ndarray, b: np.ndarray) -> float:
    """The share of the smaller of two ``[x, y, w, h]`` boxes inside the other (``detection.metrics.smaller_cover``)."""
    return float(smaller_cover(a, b)[0, 0])


def union_box(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(4,) the smallest ``[x, y, w, h]`` box holding both boxes."""
    lo = np.minimum(a[:2], b[:2])
    hi = np.maximum(a[:2] + a[2:], b[:2] + b[2:])
    return np.concatenate([lo, hi - lo])


def edges_touched(box: np.ndarray, shape: tuple[int, ...], margin: float) -> set[str]:
    """Which edges of a frame of size ``shape`` (H, W) an ``[x, y, w, h]`` box reaches, within ``margin`` px."""
    h, w = shape[:2]
    near = {"left": box[0] <= margin, "top": box[1] <= margin, "right": box[0] + box[2] >= w - margin,
            "bottom": box[1] + box[3] >= h - margin}
    return {edge for edge, ok in near.items() if ok}


def box_from_keypoints(keypoints: np.ndarray, scores: np.ndarray, min_score: float) -> np.ndarray | None:
    """(4,) the tight ``[x, y, w, h]`` box of the keypoints (21, 2) scoring >= ``min_score``; None with fewer
    than three such keypoints or no area."""
    ok = (np.asarray(scores) >= min_score) & np.isfinite(keypoints).all(axis=1)  # (21,)
    if ok.sum() < 3:
        return None
    pts = keypoints[ok]  # (K, 2)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    size = hi - lo
    if size.max() < 2.0:
        return None
    side = np.maximum(size, 0.25 * size.max())  # a flat line of keypoints (a finger seen edge-on) keeps some depth
    centre = (lo + hi) / 2
    return np.array([centre[0] - side[0] / 2, centre[1] - side[1] / 2, side[0], side[1]])
