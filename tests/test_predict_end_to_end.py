"""End to end: a small detector trained briefly on toy scenes (as ``test_detect_end_to_end.py`` trains it) in
front of a keypoint network finds the known hands of each scene through ``Predictor.predict`` (no box: a list of
hands), with their sides; a scene without hands gives an empty list."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from handpose.config import DataConfig, DetectorConfig, TrainConfig
from handpose.detection.detector import HandDetector
from handpose.detection.metrics import box_iou
from handpose.detection.task import DetectTask
from handpose.detection.toy_scenes import write_toy_scenes
from handpose.inference.predictor import Predictor

pytestmark = pytest.mark.slow  # trains for ~10 s on one CPU thread


def test_known_hands_are_found_end_to_end(tmp_path, tiny_cpm, one_torch_thread) -> None:
    torch.manual_seed(0)
    data = write_toy_scenes(tmp_path / "scenes", 8, seed=5, width=160, height=120, min_side=14, max_hands=2)
    cfg = TrainConfig(data=str(data), task="detect", batch_size=8, detector=DetectorConfig(
        width=0.25, backbone_repeats=1, neck_channels=32, head_channels=32, input_size=128))
    cfg.dataset.val_fraction = 0.0
    cfg.dataset.augment.enabled = False  # memorise the eight scenes: the test is of the pipeline, not of skill
    task = DetectTask()
    train_set, _, cfg = task.prepare_data(cfg, None)
    model = task.build_model(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    batch = {k: torch.stack([train_set[i][k] for i in range(len(train_set))]) for k in train_set[0]}
    for _ in range(200):
        total, _ = task.loss(model(batch["image"]), batch)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
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
