"""Metric values computed by hand on tiny inputs (MMPose's definitions: see handpose.metrics)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from handpose.metrics import (
    auc,
    box_sizes,
    epe,
    format_metrics,
    keypoint_metrics,
    normalized_distances,
    pck,
    pck_per_keypoint,
)


def _case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two samples, ground truth at the origin.

    keypoint 0: errors 10 px (sample 0) and 10 px (sample 1)
    keypoint 1: error 25 px in sample 0, invisible in sample 1
    keypoint 2: invisible in both samples
    keypoints 3..20: exact
    boxes: 100 x 50 (normaliser 100) and 10 x 40 (normaliser 40)
    """
    gt = np.zeros((2, 21, 3), np.float32)
    gt[..., 2] = 1
    gt[1, 1, 2] = 0
    gt[:, 2, 2] = 0
    pred = np.zeros((2, 21, 2), np.float32)
    pred[0, 0] = (6, 8)  # 10 px
    pred[1, 0] = (0, -10)  # 10 px
    pred[0, 1] = (15, 20)  # 25 px
    pred[1, 1] = (500, 500)  # invisible: ignored
    pred[:, 2] = (900, 900)  # invisible: ignored
    boxes = np.array([[5, 5, 100, 50], [0, 0, 10, 40]], np.float32)
    return pred, gt, boxes


def test_distances_mark_invisible_with_minus_one() -> None:
    pred, gt, boxes = _case()
    d = normalized_distances(pred, gt, box_sizes(boxes))
    assert d.shape == (2, 21)
    assert d[0, 0] == pytest.approx(0.1) and d[1, 0] == pytest.approx(0.25)
    assert d[0, 1] == pytest.approx(0.25) and d[1, 1] == -1
    assert (d[:, 2] == -1).all()
    assert (d[:, 3:] == 0).all()


def test_pck_by_hand() -> None:
    pred, gt, boxes = _case()
    per_kp = pck_per_keypoint(normalized_distances(pred, gt, box_sizes(boxes)), 0.2)
    assert per_kp[0] == pytest.approx(0.5)  # 0.1 hit, 0.25 miss
    assert per_kp[1] == 0.0  # 0.25 miss, other sample invisible
    assert math.isnan(per_kp[2])  # no valid sample: left out
    assert (per_kp[3:] == 1.0).all()
    # mean over the 20 keypoints that have a valid sample
    assert pck(pred, gt, box_sizes(boxes), 0.2) == pytest.approx((0.5 + 0.0 + 18) / 20)


def test_pck_threshold_is_strict() -> None:
    gt = np.zeros((1, 21, 3), np.float32)
    gt[..., 2] = 1
    pred = np.zeros((1, 21, 2), np.float32)
    pred[0, :, 0] = 20.0  # exactly 0.2 of a 100 px box
    assert pck(pred, gt, 100.0, 0.2) == 0.0
    assert pck(pred, gt, 100.0, 0.2001) == 1.0


def test_auc_by_hand() -> None:
    pred, gt, _ = _case()
    # thresholds i/20 of 30 px. Exact keypoints count from i = 1 (0 < 0 is false): 19 thresholds each;
    # keypoint 0 (10 px = 1/3) from i = 7: 13; keypoint 1 (25 px = 5/6) from i = 17: 3.
    assert auc(pred, gt) == pytest.approx((18 * 19 + 13 + 3) / 400)


def test_epe_is_mean_over_all_valid_pairs() -> None:
    pred, gt, _ = _case()
    # valid pairs: keypoint 0 twice (10, 10), keypoint 1 once (25), keypoints 3..20 twice (0): 39 pairs
    assert epe(pred, gt) == pytest.approx(45 / 39)


def test_keypoint_metrics_dict() -> None:
    pred, gt, boxes = _case()
    m = keypoint_metrics(pred, gt, boxes, head_sizes=np.array([20.0, 100.0]))
    assert m["PCK@0.2"] == pytest.approx(18.5 / 20)
    # head 20: keypoint 0 0.5 hit, keypoint 1 1.25 miss; head 100: keypoint 0 0.1 hit
    assert m["PCKh@0.7"] == pytest.approx(19 / 20)
    assert m["AUC"] == pytest.approx(358 / 400)
    assert m["EPE"] == pytest.approx(45 / 39)
    per_kp = m["per_keypoint_PCK@0.2"]
    assert isinstance(per_kp, list) and len(per_kp) == 21 and math.isnan(per_kp[2])
    assert m["num_keypoints"] == 39 and m["num_samples"] == 2
    assert "PCK@0.2" in format_metrics(m) and "EPE 1.15 px" in format_metrics(m)


def test_missing_head_size_drops_the_sample_from_pckh_only() -> None:
    pred, gt, boxes = _case()
    m = keypoint_metrics(pred, gt, boxes, head_sizes=np.array([20.0, np.nan]))
    assert m["PCKh@0.7"] == pytest.approx(19 / 20)  # sample 1 gone; keypoint 0: 0.5 hit
    assert m["num_samples_PCKh"] == 1 and m["num_samples"] == 2  # what PCKh is over, beside the whole count
    assert "PCKh@0.7 0.9500 (1 of 2 hands have a head size)" in format_metrics(m)
    assert m["PCK@0.2"] == pytest.approx(18.5 / 20)
    assert "PCKh@0.7" not in keypoint_metrics(pred, gt, boxes, head_sizes=np.array([np.nan, np.nan]))
    assert "PCKh@0.7" not in keypoint_metrics(pred, gt, boxes, head_sizes=None)


def test_perfect_and_empty() -> None:
    gt = np.random.default_rng(0).uniform(0, 100, (3, 21, 3)).astype(np.float32)
    gt[..., 2] = 1
    boxes = np.tile(np.array([[0, 0, 100, 100]], np.float32), (3, 1))
    m = keypoint_metrics(gt[..., :2], gt, boxes)
    assert m["PCK@0.2"] == 1.0 and m["EPE"] == 0.0
    assert m["AUC"] == pytest.approx(19 / 20)  # threshold 0 counts nothing, as in MMPose
    gt[..., 2] = 0
    m = keypoint_metrics(gt[..., :2], gt, boxes)
    assert m["PCK@0.2"] == 0.0 and m["EPE"] == 0.0 and m["num_keypoints"] == 0


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="expected pred"):
        normalized_distances(np.zeros((2, 21, 2)), np.zeros((3, 21, 3)), 1.0)


def test_a_sample_with_a_zero_size_box_drops_out_of_pck() -> None:
    """A degenerate box (a hand labelled with one keypoint: w = h = 0) has no normaliser: its sample is left out,
    as a missing head size is, instead of counting every keypoint of it as a miss."""
    gt = np.zeros((2, 21, 3), np.float32)
    gt[..., 2] = 1
    pred = np.zeros((2, 21, 2), np.float32)
    pred[1, :, 0] = 3.0  # sample 1: every keypoint 3 px off
    boxes = np.array([[0, 0, 100, 100], [0, 0, 0, 0]], np.float32)
    assert pck(pred, gt, box_sizes(boxes), 0.2) == 1.0  # sample 0 alone: all exact
    assert keypoint_metrics(pred, gt, boxes)["PCK@0.2"] == 1.0
    assert (normalized_distances(pred, gt, np.array([100.0, 0.0]))[1] == -1).all()
