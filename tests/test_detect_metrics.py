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


def test_an_iou_of_exactly_the_threshold_matches() -> None:
    """COCO matches at IoU >= threshold: a detection covering half of its hand ([0, 0, 10, 5] in [0, 0, 10, 10]:
    IoU 50 / 100) is a true positive at 0.5."""
    m = detection_metrics([_result([[0, 0, 10, 5]], [0.9], [[0, 0, 10, 10]])])
    assert m["AP@0.5"] == pytest.approx(1.0)


def test_a_detection_takes_the_hand_it_overlaps_most() -> None:
    """Hands A [0, 0, 10, 10] and B [4, 0, 10, 10]. The better detection [3, 0, 10, 10] overlaps A by 70 / 130 and
    B by 90 / 110, so takes B; the other, [-1, 0, 10, 10], overlaps A by 90 / 110 (B by 50 / 150) and takes A: two
    true positives. Taking the first hand over the threshold instead would leave the second detection nothing."""
    m = detection_metrics([_result([[3, 0, 10, 10], [-1, 0, 10, 10]], [0.9, 0.8], [[0, 0, 10, 10], [4, 0, 10, 10]])])
    assert m["AP@0.5"] == pytest.approx(1.0) and m["recall@1FP"] == pytest.approx(1.0)


def test_bucket_edges_small_below_32_large_from_96() -> None:
    """Hands with longer sides exactly 32 and 96 are medium and large ([lo, hi) buckets), as is an unmatched
    detection of longer side 96, ranked first: medium ignores it (AP 1), large and all count it (AP 1/2 after it;
    all: precision 2/3 at full recall). recall@1FP keeps all three detections (one false positive, one image)."""
    r = _result([[300, 300, 96, 10], [0, 0, 32, 20], [100, 100, 96, 50]], [0.95, 0.9, 0.8],
                [[0, 0, 32, 20], [100, 100, 96, 50]])
    m = detection_metrics([r])
    assert math.isnan(m["AP@0.5/small"]) and math.isnan(m["recall@1FP/small"])
    assert m["AP@0.5/medium"] == pytest.approx(1.0)
    assert m["AP@0.5/large"] == pytest.approx(0.5)
    assert m["AP@0.5"] == pytest.approx(2 / 3)
    assert m["recall@1FP/medium"] == 1.0 and m["recall@1FP/large"] == 1.0 and m["recall@1FP"] == 1.0
    assert m["num_images"] == 1 and m["num_hands"] == 2


def test_handedness_leaves_out_hands_of_unknown_side() -> None:
    """Two hands found, both called left (0.9); the first is a left hand, the second's side is unknown: 1 of 1."""
    r = ImageResult(np.array([[0, 0, 20, 20], [50, 0, 20, 20]], float), np.array([0.9, 0.8]), np.array([0.9, 0.9]),
                    np.array([[0, 0, 20, 20], [50, 0, 20, 20]], float), np.array([True, False]),
                    np.array([True, False]))
    assert detection_metrics([r])["handedness"] == 1.0
