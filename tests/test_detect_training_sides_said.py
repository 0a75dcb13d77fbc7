"""Detector training says the sides of its training hands: how many are left and right, and how many have no side
in their dataset (MMPose's COCO files, a plain hand category), which do not train its left/right output; and it
warns when its held-out images hold no hand (validation then has no AP to measure)."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.config import TrainConfig
from handpose.detection.task import DetectTask
from handpose.training.recipes import detect_config


def _data(folder: Path, annotations: list[dict]) -> Path:
    names = [f"{i}.jpg" for i in range(len(annotations))]
    for k, name in enumerate(names):  # each its own picture: files of identical bytes are one image
        cv2.imwrite(str(folder / name), np.full((60, 80, 3), 90 + 10 * k, np.uint8))
    doc = {"images": [{"id": i, "file_name": n, "width": 80, "height": 60} for i, n in enumerate(names)],
           "annotations": [{**a, "id": i, "image_id": i, "bbox": [10, 10, 30, 30]} for i, a in enumerate(annotations)],
           "categories": [{"id": 1, "name": "hand"}, {"id": 2, "name": "left_hand"}]}
    path = folder / "hands.json"
    path.write_text(json.dumps(doc))
    return path


def _said(path: Path, caplog: pytest.LogCaptureFixture) -> str:
    cfg = detect_config(TrainConfig(data=str(path), val_every=0))
    cfg = dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, val_fraction=0.0))  # every hand trains
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="handpose"):
        DetectTask().prepare_data(cfg)
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("detection data")]
    return line


def test_the_training_hands_sides_are_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sided = _data(tmp_path, [{"category_id": 1, "is_left": 1}, {"category_id": 1, "handedness": "right"},
                             {"category_id": 2}, {"category_id": 1}])
    line = _said(sided, caplog)
    assert "(4 hands: 2 left, 1 right, 1 of no side in the dataset" in line and "does not train" in line
    plain = _data(tmp_path, [{"category_id": 1}, {"category_id": 1}])
    assert "(2 hands, all of no side in the dataset" in _said(plain, caplog)


def test_held_out_images_without_hands_are_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # validation then read AP NaN at every step and no best.safetensors was written, which nothing said
    doc = json.loads(_data(tmp_path, [{"category_id": 1}, {"category_id": 1}]).read_text())
    (tmp_path / "hands.json").rename(tmp_path / "hands_train.json")
    cv2.imwrite(str(tmp_path / "empty.jpg"), np.full((60, 80, 3), 30, np.uint8))
    (tmp_path / "hands_val.json").write_text(json.dumps({
        "images": [{"id": 9, "file_name": "empty.jpg", "width": 80, "height": 60}], "annotations": [],
        "categories": doc["categories"]}))
    cfg = detect_config(TrainConfig(data=str(tmp_path), val_every=10))
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert len(DetectTask().prepare_data(cfg)[1]) == 1
    assert "the 1 image held out for validation holds no hand" in caplog.text
