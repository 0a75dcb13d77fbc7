"""Recall of each hand size at one operating point: the lowest score threshold that leaves at most ``max_fp`` false
positives over all detections of every size (IoU 0.5, matched as ``metrics.match_image`` matches all sizes).

A size's recall read at that size's own threshold, counting only false positives of its size (as COCO restricts AP
to a size), lets each size spend the whole false-positive budget on itself: on 150 held-out rendered scenes the
shipped detector alone read 0.954 for hands over 96 px that way, at a threshold that 8.3 false positives per image of
all sizes pass, where at the threshold of 1 false positive per image it finds 0.743 of them. The figures here are
each size's share of its hands found at the one threshold; over all sizes it is ``metrics.recall_at_fp``.
"""

from __future__ import annotations

import numpy as np

from handpose.detection.metrics import ImageResult, longer_side, match_image


def recall_by_size_at_fp(results: list[ImageResult], max_fp: float, buckets: dict[str, tuple[float, float]],
                         iou_threshold: float = 0.5) -> dict[str, float]:
    """Each bucket's recall (hands whose box's longer side is in ``[lo, hi)``) at the lowest score threshold with at
    most ``max_fp`` false positives over all detections; NaN for a bucket without hands."""
    scores, found_side, gt_sides = [], [], []
    for r in results:
        status, matched, order, _ = match_image(r, iou_threshold, (0.0, np.inf))
        side = longer_side(r.gt_boxes)  # (M,)
        hit = np.full(len(order), np.nan)  # (N,) the longer side of the hand each detection found, NaN for none
        hit[status == 1] = side[matched[status == 1]]
        counted = status >= 0  # a detection on a crowd region counts neither way
        scores.append(np.asarray(r.scores, np.float64)[order][counted])
        found_side.append(hit[counted])
        gt_sides.append(side)
    score = np.concatenate(scores) if scores else np.zeros(0)
    hit = np.concatenate(found_side) if found_side else np.zeros(0)
    sides = np.concatenate(gt_sides) if gt_sides else np.zeros(0)
    ranked = np.argsort(-score, kind="stable")
    within = np.flatnonzero(np.cumsum(np.isnan(hit[ranked])) <= max_fp)  # a prefix of the ranking
    kept = hit[ranked[: within[-1] + 1]] if within.size else np.zeros(0)
    out = {}
    for name, (lo, hi) in buckets.items():
        total = int(np.sum((sides >= lo) & (sides < hi)))
        found = int(np.sum((kept >= lo) & (kept < hi)))  # NaN (a false positive) is in no bucket
        out[name] = found / total if total else float("nan")
    return out
