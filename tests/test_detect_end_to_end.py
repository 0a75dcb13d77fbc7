"""End to end: a small detector trained briefly through DetectTask on toy scenes finds the known hands, and the
saved file evaluates and detects the same through the evaluation and inference entries."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from fixture_types import TrainedDetector

from handpose.config import TrainConfig
from handpose.detection.detector import HandDetector
from handpose.detection.evaluate import format_detection_report, run_detection_eval
from handpose.detection.metrics import box_iou
from handpose.detection.task import DetectTask
from handpose.model import artifact

pytestmark = pytest.mark.slow  # the shared toy detector trains for ~9 s on one CPU thread



@pytest.fixture(scope="module")
def trained(toy_detector: tuple) -> tuple[torch.nn.Module, TrainConfig, DetectTask]:
    model, cfg, task, first, last = toy_detector  # conftest: 200 steps on 8 toy scenes
    assert last < 0.1 * first
    return model, cfg, task


def test_a_briefly_trained_detector_finds_the_known_boxes(trained: TrainedDetector) -> None:
    model, cfg, task = trained
    detector = HandDetector.from_model(model, threshold=0.3)
    items = task.prepare_data(cfg, None)[0].items
    found_hands = sides_right = 0
    for item in items:
        dets = detector.detect(cv2.imread(str(item.path)))
        assert len(dets) == item.num_hands, item.path  # no false positive on the empty scenes either
        if item.num_hands:
            iou = box_iou(item.boxes, np.array([d.box for d in dets]))  # (gt, det)
            assert (iou.max(axis=1) >= 0.5).all(), (item.boxes, [d.box for d in dets])
            found_hands += item.num_hands
            best = iou.argmax(axis=1)
            sides_right += sum(dets[j].is_left == bool(item.is_left[i]) for i, j in enumerate(best))
    assert found_hands >= 6
    assert sides_right >= found_hands - 1
    metrics = task.validate(model, items, cfg, "cpu")
    assert metrics["AP@0.5"] == pytest.approx(1.0) and metrics["recall@1FP"] == pytest.approx(1.0)
    pictures = task.pictures(model, items, cfg, 2)
    assert len(pictures) == 2 and pictures[0].dtype == np.uint8 and pictures[0].shape == (256, 256, 3)


def test_the_saved_detector_evaluates_from_its_file(trained: TrainedDetector, tmp_path: Path) -> None:
    model, cfg, _ = trained
    weights = tmp_path / "best.safetensors"
    artifact.save_weights(model, weights)
    report = run_detection_eval(weights, cfg.data, out=tmp_path)
    assert report["AP@0.5"] == pytest.approx(1.0) and report["num_hands"] >= 6
    assert report["AP@0.5:0.95"] > 0.5
    def strict(constant: str) -> None:
        raise AssertionError(f"{constant} in detection_eval.json: not JSON")

    written = json.loads((tmp_path / "detection_eval.json").read_text(), parse_constant=strict)
    assert written["AP@0.5"] == report["AP@0.5"]
    empty = [k for k, v in report.items() if isinstance(v, float) and v != v]  # NaN: a size with no hand
    assert empty and all(written[k] is None for k in empty)
    assert "AP@0.5" in format_detection_report(report)
