"""The terminal's size lines of `eval --task detect` name the buckets as they are counted: a hand of longer side
exactly 96 px is large, on the line labelled ">= 96 px" (it read "> 96 px"), and not on the medium one."""

from __future__ import annotations

import numpy as np

from handpose.detection.evaluate import format_detection_report
from handpose.detection.metrics import ImageResult, detection_metrics


def test_a_96_px_hand_is_on_the_large_line() -> None:
    box = np.array([[10.0, 10.0, 96.0, 50.0]])  # (1, 4): longer side 96
    found = ImageResult(box, np.array([0.9]), np.array([0.0]), box, np.zeros(1, bool), np.zeros(1, bool))
    report = {"split": "all", "scales": [1.0], "threshold": 0.01, **detection_metrics([found])}
    lines = {line.split(":")[0].strip(): line for line in format_detection_report(report).splitlines()[1:]}
    assert "AP@0.5 1.000" in lines[">= 96 px"] and "AP@0.5 nan" in lines["32-96 px"]
