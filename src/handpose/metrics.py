"""Keypoint metrics with MMPose's definitions: PCK (box), PCKh (head size), AUC (30 px, 20 thresholds) and EPE.

The definitions follow ``mmpose/evaluation/functional/keypoint_eval.py`` so that handpose's numbers compare with
MMPose's published hand results:

- only visible ground-truth keypoints (``v > 0``) count; a keypoint that does not count has distance -1;
- a sample whose normaliser is not a positive number (no box, no head size) drops out entirely;
- PCK@t = the mean, over keypoints that have at least one valid sample, of that keypoint's share of
  samples with ``distance / normaliser < t``;
- AUC = the mean of PCK over the thresholds ``i / 20`` for ``i = 0..19`` with the distances divided by 30 px
  (so 0, 1.5, ..., 28.5 px);
- EPE = the mean Euclidean distance in pixels over all valid (sample, keypoint) pairs (not per keypoint).

All errors are measured in original-image pixels.
"""

from __future__ import annotations

import math

import numpy as np

from handpose.keypoints import NUM_KEYPOINTS

PCK_THRESHOLD = 0.2  # PCK@0.2, normalised by max(w, h) of the ground-truth box
PCKH_THRESHOLD = 0.7  # PCKh@0.7, normalised by the head size (CMU Panoptic hand protocol)
AUC_NORM_PX = 30.0  # MMPose's AUC(norm_factor=30)
AUC_THRESHOLDS = 20  # MMPose's AUC(num_thrs=20)


def normalized_distances(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray | float) -> np.ndarray:
    """Distances between predicted and ground-truth keypoints divided by a per-sample normaliser.

    Args:
        pred: (N, K, 2) predicted keypoints, original px.
        gt: (N, K, 3) ground truth ``[x, y, v]``; ``v > 0`` counts.
        norm: (N,) per-sample normaliser, or one number for all samples; NaN or <= 0 drops that sample.

    Returns:
        (N, K) float64 normalised distances, -1 where the pair does not count.
    """
    pred = np.asarray(pred, dtype=np.float64)[..., :2]  # (N, K, 2)
    gt = np.asarray(gt, dtype=np.float64)  # (N, K, 3)
    if pred.ndim != 3 or gt.ndim != 3 or pred.shape[:2] != gt.shape[:2] or gt.shape[2] < 3:
        raise ValueError(f"expected pred (N, K, 2) and gt (N, K, 3), got {pred.shape} and {gt.shape}")
    n = pred.shape[0]
    norm_arr = np.broadcast_to(np.asarray(norm, dtype=np.float64), (n,))
    norm_ok = np.isfinite(norm_arr) & (norm_arr > 0)  # (N,)
    valid = (gt[..., 2] > 0) & norm_ok[:, None]  # (N, K)
    safe_norm = np.where(norm_ok, norm_arr, 1.0)  # (N,)
    dist = np.linalg.norm(pred - gt[..., :2], axis=-1) / safe_norm[:, None]  # (N, K)
    return np.where(valid, dist, -1.0)


def pck_per_keypoint(distances: np.ndarray, threshold: float) -> np.ndarray:
    """(K,) share of valid samples with ``distance < threshold`` per keypoint; NaN where a keypoint has none."""
    valid = distances != -1  # (N, K)
    count = valid.sum(axis=0)  # (K,)
    hits = ((distances < threshold) & valid).sum(axis=0)  # (K,)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, hits / np.maximum(count, 1), np.nan)


def pck_from_distances(distances: np.ndarray, threshold: float) -> float:
    """Mean per-keypoint PCK over the keypoints that have at least one valid sample (0.0 when none has)."""
    per_kp = pck_per_keypoint(distances, threshold)
    ok = ~np.isnan(per_kp)
    return float(per_kp[ok].mean()) if ok.any() else 0.0


def pck(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray | float, threshold: float) -> float:
    """PCK@threshold with distances divided by ``norm`` (per sample or one number)."""
    return pck_from_distances(normalized_distances(pred, gt, norm), threshold)


def pck_curve(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray | float, thresholds: np.ndarray) -> np.ndarray:
    """PCK at each of ``thresholds`` (the curve the evaluation report plots)."""
    dist = normalized_distances(pred, gt, norm)
    return np.array([pck_from_distances(dist, float(t)) for t in thresholds], dtype=np.float64)


def auc(pred: np.ndarray, gt: np.ndarray, norm_px: float = AUC_NORM_PX, num_thresholds: int = AUC_THRESHOLDS) -> float:
    """MMPose's AUC: mean PCK over thresholds ``i / num_thresholds`` (i = 0..num-1) of distance / ``norm_px``."""
    thresholds = np.arange(num_thresholds, dtype=np.float64) / num_thresholds
    return float(pck_curve(pred, gt, norm_px, thresholds).mean())


def epe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean end-point error in pixels over all visible ground-truth keypoints (0.0 when there are none)."""
    dist = normalized_distances(pred, gt, 1.0)
    valid = dist[dist != -1]
    return float(valid.sum() / max(1, valid.size))


def box_sizes(boxes: np.ndarray) -> np.ndarray:
    """(N,) PCK normaliser: ``max(w, h)`` of each ``[x, y, w, h]`` ground-truth box."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return boxes[:, 2:4].max(axis=1)


def keypoint_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    boxes: np.ndarray,
    head_sizes: np.ndarray | None = None,
    pck_threshold: float = PCK_THRESHOLD,
    pckh_threshold: float = PCKH_THRESHOLD,
) -> dict[str, float | int | list[float]]:
    """All of handpose's reported metrics for predictions against ground truth.

    Args:
        pred: (N, 21, 2) predicted keypoints, original px.
        gt: (N, 21, 3) ground truth ``[x, y, v]``, original px.
        boxes: (N, 4) ground-truth boxes ``[x, y, w, h]`` (PCK normaliser ``max(w, h)``).
        head_sizes: (N,) head sizes (PCKh normaliser), NaN where a sample has none; None or all-NaN: no PCKh.

    Returns:
        ``{"PCK@0.2", "PCKh@0.7" and "num_samples_PCKh" (only with head sizes: the samples that have one, which
        PCKh is over), "AUC", "EPE", "per_keypoint_PCK@0.2" (21 floats, NaN where no sample), "num_keypoints"
        (visible gt keypoints), "num_samples"}``; the threshold in the key names follows the arguments.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape[1:] != (NUM_KEYPOINTS, 2) and pred.shape[1:2] != (NUM_KEYPOINTS,):
        raise ValueError(f"expected pred (N, {NUM_KEYPOINTS}, 2), got {pred.shape}")
    dist_box = normalized_distances(pred, gt, box_sizes(boxes))
    per_kp = pck_per_keypoint(dist_box, pck_threshold)
    ok = ~np.isnan(per_kp)
    out: dict[str, float | int | list[float]] = {
        f"PCK@{pck_threshold:g}": float(per_kp[ok].mean()) if ok.any() else 0.0,
    }
    if head_sizes is not None:
        heads = np.asarray(head_sizes, dtype=np.float64).reshape(-1)
        if np.isfinite(heads).any():
            out[f"PCKh@{pckh_threshold:g}"] = pck(pred, gt, heads, pckh_threshold)
            out["num_samples_PCKh"] = int(np.isfinite(heads).sum())  # the hands with a head size: PCKh's own count
    out["AUC"] = auc(pred, gt)
    out["EPE"] = epe(pred, gt)
    out[f"per_keypoint_PCK@{pck_threshold:g}"] = [float(v) for v in per_kp]
    out["num_keypoints"] = int((gt[..., 2] > 0).sum())
    out["num_samples"] = int(gt.shape[0])
    return out


def format_metrics(metrics: dict[str, float | int | list[float]]) -> str:
    """A one-line summary such as ``PCK@0.2 0.912  PCKh@0.7 0.998  AUC 0.701  EPE 9.31 px``."""
    parts = []
    for key, value in metrics.items():
        if isinstance(value, float) and (key.startswith(("PCK@", "PCKh@")) or key in ("AUC", "EPE")):
            if math.isnan(value):
                parts.append(f"{key} nan")
            elif key == "EPE":
                parts.append(f"{key} {value:.2f} px")
            else:
                parts.append(f"{key} {value:.4f}")
            with_head, every = metrics.get("num_samples_PCKh"), metrics.get("num_samples")
            if key.startswith("PCKh@") and isinstance(with_head, int) and isinstance(every, int) and with_head < every:
                parts[-1] += f" ({with_head} of {every} hands have a head size)"
    return "  ".join(parts)
