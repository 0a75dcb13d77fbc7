"""Pictures of detections for TensorBoard and reports: ground-truth boxes in green, detections in orange (left
hands) or magenta (right hands) with their score, on the letterboxed image the network saw."""

from __future__ import annotations

import cv2
import numpy as np

from handpose.detection.codec import Boxes
from handpose.detection.letterbox import transform_boxes

GT_COLOUR = (0, 200, 0)  # BGR
LEFT_COLOUR = (0, 140, 255)
RIGHT_COLOUR = (255, 0, 200)


def draw_detections(letterboxed: np.ndarray, matrix: np.ndarray, found: Boxes, gt_boxes: np.ndarray,
                    scale: int = 2) -> np.ndarray:
    """RGB uint8 (S*scale, S*scale, 3) picture of a letterboxed BGR image with its boxes (original px, mapped by
    ``matrix`` original -> input px)."""
    img = cv2.resize(letterboxed, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    for b in transform_boxes(gt_boxes, matrix) * scale:
        _rect(img, b, GT_COLOUR, 1)
    for b, s, left in zip(transform_boxes(found.boxes, matrix) * scale, found.scores, found.left):
        colour = LEFT_COLOUR if left > 0.5 else RIGHT_COLOUR
        _rect(img, b, colour, 2)
        label = f"{'L' if left > 0.5 else 'R'} {s:.2f}"
        cv2.putText(img, label, (int(b[0]), max(10, int(b[1]) - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1,
                    cv2.LINE_AA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _rect(img: np.ndarray, box: np.ndarray, colour: tuple[int, int, int], thickness: int) -> None:
    x, y, w, h = (int(round(v)) for v in box)
    cv2.rectangle(img, (x, y), (x + max(w, 1), y + max(h, 1)), colour, thickness)
