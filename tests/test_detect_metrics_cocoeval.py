"""``detection/metrics`` against pycocotools' COCOeval, without pycocotools: tests/data/coco_eval_fixture.json holds 40
rendered scenes' hand boxes, the shipped detector's 800 detections on them and the figures COCOeval gave
(``scripts/coco_eval_fixture.py``: bbox, maxDets 100, areas from the longer side in half-open ranges as handpose
draws its size buckets), as the boxes are and with every sixth box a crowd region (``iscrowd`` 1). Also a hand-made
case of recall at 1 false positive per image by size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handpose.detection.metrics import ImageResult, detection_metrics

FIXTURE = Path(__file__).parent / "data" / "coco_eval_fixture.json"


def _results(doc: dict, crowd: frozenset[int] = frozenset()) -> list[ImageResult]:
    """One ImageResult per image of the fixture, detections in the file's order (COCOeval's ties go by it); the
    annotations whose ids are in ``crowd`` are crowd regions."""
    results = []
    for im in doc["images"]:
        anns = [a for a in doc["annotations"] if a["image_id"] == im["id"]]
        gt = np.array([a["bbox"] for a in anns if a["id"] not in crowd], np.float64).reshape(-1, 4)
        regions = np.array([a["bbox"] for a in anns if a["id"] in crowd], np.float64).reshape(-1, 4)
        dets = [d for d in doc["detections"] if d["image_id"] == im["id"]]
        boxes = np.array([d["bbox"] for d in dets], np.float64).reshape(-1, 4)
        scores = np.array([d["score"] for d in dets], np.float64)
        results.append(ImageResult(boxes, scores, np.zeros(len(dets)), gt, np.zeros(len(gt), bool),
                                   np.zeros(len(gt), bool), gt_crowd=regions))
    return results


def test_ap_and_recall_match_cocoeval_on_rendered_scenes() -> None:
    doc = json.loads(FIXTURE.read_text())
    m = detection_metrics(_results(doc))
    for key, expected in doc["cocoeval"].items():
        assert m[key] == pytest.approx(expected, abs=1e-9), key


def test_crowd_regions_count_neither_way_as_in_cocoeval() -> None:
    # a detection on a crowd region (its intersection over the detection's own area >= the IoU threshold) is
    # ignored, however many detections land there; the region is no hand to find
    doc = json.loads(FIXTURE.read_text())
    m = detection_metrics(_results(doc, frozenset(doc["crowd_ids"])))
    for key, expected in doc["cocoeval_crowd"].items():
        assert m[key] == pytest.approx(expected, abs=1e-9), key


def test_recall_by_size_is_read_at_the_one_false_positive_per_image_threshold_of_all_hands() -> None:
    # one image: a small hand and a large one; detections by score: the small hand (0.9), two small false positives
    # (0.8, 0.7), the large hand (0.1). One false positive per image stops after the first false positive: the small
    # hand is found, the large one is not, whatever the large bucket's own false positives (none) would allow
    gt = np.array([[0, 0, 200, 200], [300, 300, 20, 20]], np.float64)
    boxes = np.array([[300, 300, 20, 20], [500, 10, 20, 20], [500, 100, 20, 20], [0, 0, 200, 200]], np.float64)
    r = ImageResult(boxes, np.array([0.9, 0.8, 0.7, 0.1]), np.zeros(4), gt, np.zeros(2, bool), np.zeros(2, bool))
    m = detection_metrics([r])
    assert m["recall@1FP"] == pytest.approx(0.5)
    assert m["recall@1FP/small"] == pytest.approx(1.0)
    assert m["recall@1FP/large"] == pytest.approx(0.0)
    assert np.isnan(m["recall@1FP/medium"])
    assert m["AP@0.5/large"] == pytest.approx(1.0)  # AP stays per size, as COCO has it: no large false positive
