"""A hand box that runs past the image's edge (a hand cut by the frame, labelled whole) is cut at the edge where the
json gives the image's size: the detector's boxes end there, so the best of them could not match the box as given,
and one mostly outside the picture not at all."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from handpose.detection.coco import read_detection_images
from handpose.detection.metrics import ImageResult, detection_metrics


def _doc(folder: Path, sized: bool) -> Path:
    cv2.imwrite(str(folder / "a.jpg"), np.full((60, 80, 3), 90, np.uint8))
    image = {"id": 1, "file_name": "a.jpg", **({"width": 80, "height": 60} if sized else {})}
    path = folder / ("sized.json" if sized else "unsized.json")
    path.write_text(json.dumps({"images": [image], "annotations": [
        {"image_id": 1, "bbox": [-30, -10, 40, 30]},  # three quarters of its width off the left edge
        {"image_id": 1, "bbox": [60, 40, 30, 30]}]}))  # past the right and bottom edges
    return path


def test_boxes_are_cut_at_the_edge_of_an_image_of_known_size(tmp_path: Path) -> None:
    (item,) = read_detection_images(_doc(tmp_path, sized=True))
    assert item.boxes.tolist() == [[0, 0, 10, 20], [60, 40, 20, 20]]
    # a detector that finds the visible part of each hand (its boxes end at the edge) finds both
    visible = np.array([[0, 0, 10, 20], [60, 40, 20, 20]], np.float64)  # (2, 4)
    found = ImageResult(visible, np.array([0.9, 0.8]), np.zeros(2), item.boxes.astype(np.float64), item.is_left,
                        item.left_known)
    assert detection_metrics([found])["AP@0.5"] == 1.0


def test_without_the_json_size_the_boxes_stay_as_given(tmp_path: Path) -> None:
    (item,) = read_detection_images(_doc(tmp_path, sized=False))  # a header's size may be before an EXIF turn
    assert item.boxes.tolist() == [[-30, -10, 40, 30], [60, 40, 30, 30]]
