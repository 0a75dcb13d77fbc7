"""A stand-in detector for tests: it finds exactly the hands the test gives it (boxes, sides, scores)."""

from __future__ import annotations

import numpy as np

from handpose.detection.detector import Detection


class BoxesDetector:
    """Hands the test gives, with the side and left-hand probability it chooses."""

    def __init__(self, detections: list[Detection]) -> None:
        self.detections = detections

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        return list(self.detections)
