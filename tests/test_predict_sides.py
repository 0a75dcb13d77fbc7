"""A found hand's side: the detector's call when it is sure, else the keypoint network's mirror test (the crop run
both ways, the more confident kept), in still images and in tracking, checked with the shipped keypoint model on the
checked-in renders."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from given_boxes import BoxesDetector

from handpose.data.crop import sample_box
from handpose.detection.detector import Detection
from handpose.inference.predictor import Predictor
from handpose.inference.tracking import HandTracker


@pytest.fixture(scope="module")
def hands(checked_in_hands: list) -> list:
    return checked_in_hands


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_pretrained(refine=None)  # the detector's boxes as given: the side is what is tested


def test_an_unsure_detector_leaves_the_side_to_the_keypoint_network(hands: list, predictor: Predictor) -> None:
    assert predictor.spec.mirror_left  # the shipped model was trained with left hands mirrored
    right_answers = 0
    for s in hands:
        img = cv2.imread(str(s.image_path))
        box = sample_box(s)
        as_right = predictor.predict(img, box=box, is_left=False)
        as_left = predictor.predict(img, box=box, is_left=True)
        guess = Detection(box, 0.7, not s.is_left, 0.5)  # a coin toss, here always the wrong side
        with_guess = replace(predictor, detector=BoxesDetector([guess]))
        hand = with_guess.predict(img)[0]
        want_left = float(as_left.scores.mean()) > float(as_right.scores.mean())
        assert hand.is_left == want_left and hand.left_score == 0.5 and hand.score == 0.7
        np.testing.assert_allclose(hand.keypoints, (as_left if want_left else as_right).keypoints, atol=1e-4)
        tracked = HandTracker(with_guess).update(img, 0.0)  # a video's first frame: the tracker settles it too
        assert len(tracked) == 1 and tracked[0].is_left == want_left
        right_answers += int(hand.is_left == bool(s.is_left))
    assert right_answers > len(hands) / 2  # the wrong guess was corrected on most hands (a coin: half)


def test_a_sure_detector_or_margin_zero_keeps_the_detectors_side(hands: list, predictor: Predictor) -> None:
    s = hands[0]
    img = cv2.imread(str(s.image_path))
    box = sample_box(s)
    for det, margin in ((Detection(box, 0.9, True, 0.9), 0.1), (Detection(box, 0.9, False, 0.45), 0.0)):
        found = replace(predictor, detector=BoxesDetector([det]), side_margin=margin).predict(img)
        assert len(found) == 1 and found[0].is_left == det.is_left
        same = predictor.predict(img, box=box, is_left=det.is_left)
        np.testing.assert_allclose(found[0].keypoints, same.keypoints, atol=1e-4)
