"""`eval --task detect --split val` (or train) on a split whose images hold no hand box is an error that says so,
not a table of NaN figures."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.detection.evaluate import run_detection_eval


def test_a_split_of_images_without_hands_is_an_error(tmp_path: Path) -> None:
    for name in ("a.jpg", "empty.jpg"):
        cv2.imwrite(str(tmp_path / name), np.full((60, 80, 3), 90, np.uint8))
    (tmp_path / "hands_train.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 80, "height": 60}],
        "annotations": [{"id": 1, "image_id": 1, "bbox": [10, 10, 30, 30]}]}))
    (tmp_path / "hands_val.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "empty.jpg", "width": 80, "height": 60}], "annotations": []}))
    with pytest.raises(ValueError, match=r"the 'val' split holds 1 image but no hand box"):
        run_detection_eval("pretrained:detector", tmp_path, split="val", scales=(1.0,))
    report = run_detection_eval("pretrained:detector", tmp_path, split="train", scales=(1.0,))
    assert report["num_hands"] == 1 and report["num_images"] == 1
