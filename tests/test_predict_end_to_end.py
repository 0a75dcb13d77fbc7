"""End to end: a small detector trained briefly on toy scenes (conftest's ``toy_detector``) in
front of a keypoint network finds the known hands of each scene through ``Predictor.predict`` (no box: a list of
hands), with their sides; a scene without hands gives an empty list."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from fixture_types import TinyCpm

from handpose.config import DataConfig
from handpose.detection.detector import HandDetector
from handpose.detection.metrics import box_iou
from handpose.inference.predictor import Predictor

pytestmark = pytest.mark.slow  # the shared toy detector trains for ~9 s on one CPU thread


def test_known_hands_are_found_end_to_end(toy_detector: tuple, tiny_cpm: TinyCpm, one_torch_thread: None) -> None:
    model, cfg, task, _, _ = toy_detector  # conftest: 200 steps on 8 toy scenes
    train_set = task.prepare_data(cfg, None)[0]
    detector = HandDetector.from_model(model.eval(), threshold=0.3)
    predictor = Predictor.from_model(tiny_cpm(1), DataConfig(input_size=64, mirror_left=True), detector=detector)
    found = empty = 0
    for item in train_set.items:
        image = cv2.imread(str(item.path))
        hands = predictor.predict(image)
        assert len(hands) == item.num_hands, item.path
        if item.num_hands == 0:
            empty += 1
            continue
        iou = box_iou(item.boxes, np.array([h.box for h in hands]))  # (truth, found)
        assert (iou.max(axis=1) >= 0.5).all()
        for i, j in enumerate(iou.argmax(axis=1)):
            hand = hands[j]
            assert hand.is_left == bool(item.is_left[i]) and hand.keypoints.shape == (21, 2)
            assert 0.3 <= hand.score <= 1.0 and np.isfinite(hand.keypoints).all()
            found += 1
    assert found >= 6 and empty >= 1
