"""A Prediction prints as one short line (box, scores, side, array shapes): by default it keeps its belief maps and
crop, whose numpy reprs made `hand` typed at a prompt print thousands of lines."""

from __future__ import annotations

import numpy as np

from handpose.inference.predictor import Prediction
from handpose.inference.results import Hands


def _hand(**kw: object) -> Prediction:
    scores = np.linspace(0.2, 1.0, 21, dtype=np.float32)  # mean 0.6
    args = {"keypoints": np.arange(42, dtype=np.float32).reshape(21, 2), "scores": scores,
            "box": np.array([120, 80, 200, 220], np.float32), "stage_maps": np.zeros((2, 22, 16, 16), np.float32),
            "crop": np.full((128, 128, 3), 128, np.uint8), "matrix": np.eye(2, 3)}
    return Prediction(**{**args, **kw})  # type: ignore[arg-type]


def test_repr_is_one_short_line_with_shapes_not_values() -> None:
    text = repr(_hand())
    assert "\n" not in text and len(text) < 300
    assert "array(" not in text
    assert text == ("Prediction(box=[120.0, 80.0, 200.0, 220.0], score=None, is_left=False, left_score=None, "
                    "keypoints=<21x2 array>, scores=<21 array, mean 0.6>, stage_maps=<2x22x16x16 array>, "
                    "crop=<128x128x3 array>)")


def test_repr_of_a_detected_tracked_hand_and_of_hands() -> None:
    hand = _hand(score=0.74596, detector_score=0.2747, is_left=True, left_score=0.504, track_id=3, stage_maps=None,
                 crop=None)
    text = repr(hand)
    assert "score=0.746, detector_score=0.2747, track_id=3, is_left=True, left_score=0.504" in text
    assert "stage_maps=None, crop=None" in text
    many = repr(Hands([hand, _hand()], np.zeros((382, 720, 3), np.uint8)))
    assert many.count("Prediction(") == 2 and "\n" not in many and len(many) < 600
