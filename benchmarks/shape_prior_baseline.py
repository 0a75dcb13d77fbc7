"""The floor a keypoint model must beat: the mean hand shape of a training set placed in each ground-truth box.

For every hand of the training set (left hands mirrored to right), the visible keypoints relative to the box
centre, divided by the box's longer side, are averaged per keypoint. Each evaluation hand then gets that mean
shape in its own ground-truth box (mirrored back for left hands), scored with handpose's metrics (MMPose's
definitions). A model that does not beat this has learnt the average hand, not to see hands.
README.md compares the demo model trained on rendered hands with this baseline on the real photographs.

Usage: python benchmarks/shape_prior_baseline.py --train runs/demo/data EVAL_DATASET [EVAL_DATASET ...]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from handpose.data.formats import load_splits
from handpose.data.sample import Sample
from handpose.metrics import format_metrics, keypoint_metrics


def _centre_and_side(sample: Sample) -> tuple[np.ndarray, float]:
    box = np.asarray(sample.box, dtype=np.float64)  # (4,) x, y, w, h
    return box[:2] + box[2:] / 2, float(max(box[2], box[3]))


def mean_shape(samples: list[Sample]) -> np.ndarray:
    """(21, 2) mean right-hand keypoints relative to the box centre, in units of the box's longer side."""
    total = np.zeros((21, 2))
    count = np.zeros(21)
    for s in samples:
        centre, side = _centre_and_side(s)
        kp = np.asarray(s.keypoints, dtype=np.float64)  # (21, 3)
        rel = (kp[:, :2] - centre) / side  # (21, 2)
        if s.is_left:
            rel[:, 0] *= -1
        visible = kp[:, 2] > 0
        total[visible] += rel[visible]
        count[visible] += 1
    return total / np.maximum(count, 1)[:, None]


def place(shape: np.ndarray, sample: Sample) -> np.ndarray:
    """(21, 2) the mean shape in ``sample``'s ground-truth box, in image pixels."""
    centre, side = _centre_and_side(sample)
    rel = shape.copy()
    if sample.is_left:
        rel[:, 0] *= -1
    return centre + rel * side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, required=True, help="dataset the mean shape is taken from")
    parser.add_argument("eval", type=Path, nargs="+", help="datasets to score the mean shape on (all splits)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    train = load_splits(args.train)
    shape = mean_shape(train.train)
    print(f"mean shape from {len(train.train)} training hands of {args.train}")
    for path in args.eval:
        splits = load_splits(path)
        samples = splits.train + splits.val
        pred = np.stack([place(shape, s) for s in samples])  # (N, 21, 2)
        gt = np.stack([np.asarray(s.keypoints, dtype=np.float64) for s in samples])  # (N, 21, 3)
        boxes = np.stack([np.asarray(s.box, dtype=np.float64) for s in samples])  # (N, 4)
        heads = np.array([np.nan if s.head_size is None else s.head_size for s in samples], dtype=np.float64)
        metrics = keypoint_metrics(pred, gt, boxes, heads)
        print(f"{path} ({splits.fmt}, {len(samples)} hands): {format_metrics(metrics)}")


if __name__ == "__main__":
    main()
