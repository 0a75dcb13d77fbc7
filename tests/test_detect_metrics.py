"""Detection metrics on hand-made cases with known answers: IoU, AP (101-point and all-point), recall at a false
positive budget, size buckets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from handpose.detection.metrics import (
    BUCKETS,
    ImageResult,
    average_precision,
    box_iou,
    detection_metrics,
    recall_by_size_at_fp,
)


def test_box_iou_of_known_overlaps() -> None:
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]]))
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0]])


def test_average_precision_of_a_hand_made_ranking() -> None:
    # ranked: TP, FP, TP, TP against 3 ground-truth boxes -> recall 1/3, 1/3, 2/3, 1; precision 1, 1/2, 2/3, 3/4
    scores, tp = np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 1])
    # all-point: 1/3 * 1 + 1/3 * 3/4 + 1/3 * 3/4 (the envelope lifts 2/3 to 3/4)
    assert average_precision(scores, tp, 3, "all") == pytest.approx(1 / 3 + 0.5)
    # COCO's 101 points: r = 0.00..0.33 (34 points) at precision 1, r = 0.34..1.00 (67 points) at 3/4
    assert average_precision(scores, tp, 3, "coco101") == pytest.approx((34 + 67 * 0.75) / 101)
    # a missed box caps recall at 3/4: COCO's points above 0.75 count 0
    assert average_precision(scores, tp, 4, "coco101") == pytest.approx((26 + 50 * 0.75) / 101)
    assert math.isnan(average_precision(scores, tp, 0))


def test_recall_at_a_false_positive_budget() -> None:
    # ranked: TP, FP, TP, TP against 3 ground-truth boxes
    found = _result([[0, 0, 10, 10], [50, 50, 10, 10], [100, 0, 10, 10], [200, 0, 10, 10]], [0.9, 0.8, 0.7, 0.6],
                    [[0, 0, 10, 10], [100, 0, 10, 10], [200, 0, 10, 10]])
    assert recall_by_size_at_fp([found], 0, BUCKETS)["all"] == pytest.approx(1 / 3)
    assert recall_by_size_at_fp([found], 1, BUCKETS)["all"] == pytest.approx(1.0)


def _result(boxes: list, scores: list, gts: list, left: list | None = None, gt_left: list | None = None) -> ImageResult:
    boxes = np.array(boxes, float).reshape(-1, 4)
    gts = np.array(gts, float).reshape(-1, 4)
    return ImageResult(boxes, np.array(scores, float), np.array(left if left is not None else [0.0] * len(boxes)),
                       gts, np.array(gt_left if gt_left is not None else [False] * len(gts)),
                       np.ones(len(gts), bool))


def test_metrics_over_images_with_buckets_and_handedness() -> None:
    results = [
        # a large hand found (and its side right), a small one missed, a false positive of medium size
        _result([[100, 100, 120, 100], [10, 300, 50, 40]], [0.9, 0.5], [[100, 100, 120, 100], [5, 5, 20, 20]],
                left=[0.8, 0.1], gt_left=[True, False]),
        _result([], [], []),  # an image with nothing in it
    ]
    m = detection_metrics(results)
    assert m["num_images"] == 2 and m["num_hands"] == 2
    # all sizes: TP (0.9), FP (0.5) against 2 boxes -> recall tops at 1/2 with precision 1: 51 of 101 points
    assert m["AP@0.5"] == pytest.approx(51 / 101)
    assert m["AP@0.5:0.95"] == pytest.approx(51 / 101)  # the found box is exact at every IoU
    assert m["recall@1FP"] == pytest.approx(0.5)
    assert m["AP@0.5/large"] == pytest.approx(1.0)  # the medium false positive is ignored in the large bucket
    assert m["AP@0.5/small"] == pytest.approx(0.0)
    assert m["AP@0.5/medium"] != m["AP@0.5/medium"]  # NaN: no medium hand
    assert m["handedness"] == pytest.approx(1.0)


def test_a_duplicate_detection_is_a_false_positive() -> None:
    m = detection_metrics([_result([[0, 0, 50, 50], [1, 1, 50, 50]], [0.9, 0.8], [[0, 0, 50, 50]])])
    # TP then FP: precision 1 up to recall 1
    assert m["AP@0.5"] == pytest.approx(1.0)
    m = detection_metrics([_result([[0, 0, 50, 50], [1, 1, 50, 50]], [0.8, 0.9], [[0, 0, 50, 50]])])
    # the shifted box ranks first and takes the hand at IoU 0.5; the exact one is then a duplicate
    assert m["AP@0.5"] == pytest.approx(1.0)
    assert m["AP@0.5:0.95"] < 1.0


def test_report_lines_show_the_side_only_where_it_was_measured() -> None:
    from handpose.detection.evaluate import format_detection_report

    report = {"num_images": 2, "num_hands": 3}
    for suffix in ("", "/small", "/medium", "/large"):
        report.update({f"AP@0.5{suffix}": 0.5, f"AP@0.5:0.95{suffix}": 0.25, f"recall@1FP{suffix}": 0.75})
    report.update({"handedness": 2 / 3, "handedness/small": float("nan"), "handedness/medium": 1.0})
    lines = format_detection_report(report).splitlines()
    assert lines[1].endswith("side correct 0.667")
    assert "side correct" not in lines[2] and "side correct" not in lines[4]  # NaN, and absent
    assert lines[3].endswith("side correct 1.000")
