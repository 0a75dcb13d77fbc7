"""Crowd regions (``iscrowd`` 1) of a hand box json: left out of training as before, but kept for evaluation, where a
detection on one counts neither way, as in pycocotools' COCOeval (``tests/test_detect_metrics_cocoeval.py`` holds the
figures to COCOeval's)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from handpose.detection.coco import read_detection_images
from handpose.detection.evaluate import detect_images
from handpose.detection.metrics import detection_metrics


def _scene(folder: Path) -> Path:
    """One 200 x 100 image: a hand at (10, 10, 40, 40), a crowd region of hands at (100, 10, 90, 80) and a crowd
    region of another category."""
    cv2.imwrite(str(folder / "a.png"), np.full((100, 200, 3), 90, np.uint8))
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [100, 10, 90, 80], "iscrowd": 1},
            {"id": 3, "image_id": 1, "category_id": 2, "bbox": [0, 0, 200, 100], "iscrowd": 1}]
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": 200, "height": 100}], "annotations": anns,
           "categories": [{"id": 1, "name": "hand"}, {"id": 2, "name": "person"}]}
    path = folder / "hands.json"
    path.write_text(json.dumps(doc))
    return path


class _GivenDetections:
    """A stand-in for HandDetector in ``detect_images``: the same detections in every image."""

    def __init__(self, boxes: list[list[float]], scores: list[float]) -> None:
        self.found = SimpleNamespace(boxes=np.array(boxes, np.float64), scores=np.array(scores, np.float64),
                                     left=np.zeros(len(scores)))

    def letterbox_scales(self, image: np.ndarray) -> np.ndarray:
        return image

    def find(self, prepared: list[np.ndarray], threshold: float) -> list[SimpleNamespace]:
        return [self.found for _ in prepared]


def test_the_reader_keeps_a_hand_crowd_region_apart_from_the_hands(tmp_path: Path) -> None:
    (item,) = read_detection_images(_scene(tmp_path))
    assert item.boxes.tolist() == [[10, 10, 40, 40]]
    assert item.crowd.tolist() == [[100, 10, 90, 80]]  # the person crowd is no hand's


def test_detections_on_a_crowd_region_are_no_false_positives(tmp_path: Path) -> None:
    items = read_detection_images(_scene(tmp_path))
    # two detections inside the crowd region score above the hand's: false positives, AP 1/3, were it not a crowd
    detector = _GivenDetections([[110, 20, 30, 30], [150, 40, 30, 40], [10, 10, 40, 40]], [0.9, 0.8, 0.7])
    m = detection_metrics(detect_images(detector, items))  # type: ignore[arg-type]
    assert m["AP@0.5"] == pytest.approx(1.0)
    assert m["recall@1FP"] == pytest.approx(1.0) and m["num_hands"] == 1
