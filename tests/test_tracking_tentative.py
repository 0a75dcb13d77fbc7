"""A new hand is shown, and given an id, once followed on ``TrackingConfig.confirm_frames`` frames in a row
(``tracking.tentative``): the rule on one track, and the tracker on dot hands (stubs of ``dot_hands`` for the
networks, the tracker itself real)."""

from __future__ import annotations

import numpy as np
import pytest
from dot_hands import DotBackend, DotDetector, dot_hand_keypoints, draw_dot_hands

from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.inference.smoothing import OneEuroFilter, SmoothingConfig
from handpose.inference.tracking import HandTracker, Track, TrackingConfig
from handpose.inference.tracking.tentative import on_trial

SIZE = (400, 200)  # frame width, height
STILL, FLASH = (100.0, 100.0), (300.0, 100.0)  # a hand in every frame; one on a single frame


def _track(track_id: int, detector_score: float | None = 0.9) -> Track:
    track = Track(track_id, np.array([10.0, 10.0, 40.0, 40.0]), False, 0.9, 0.2, OneEuroFilter(SmoothingConfig()))
    track.detector_score = detector_score
    return track


def test_a_candidate_is_shown_on_its_kth_frame_followed_and_dropped_when_it_fails() -> None:
    """At 2 frames a candidate is held on its first frame and shown on its second; not followed on, or ranked under
    the threshold, it is dropped; at 1 frame everything is shown at once, as is a hand shown before (id >= 0) and a
    track without a detection (the start box)."""
    candidate = _track(-1)
    assert on_trial(candidate, True, 0.6, 0.45, 2) == "hold"
    assert on_trial(candidate, True, 0.6, 0.45, 2) == "show"
    assert on_trial(_track(-2), True, 0.44, 0.45, 2) == "drop"
    assert on_trial(_track(-2), True, 0.44, None, 2) == "hold"  # no refinement: no threshold
    assert on_trial(_track(-3), False, 0.6, 0.45, 2) == "drop"  # a detection too weak to follow
    three = _track(-4)
    assert [on_trial(three, True, 0.6, 0.45, 3) for _ in range(3)] == ["hold", "hold", "show"]
    assert on_trial(_track(-5), True, 0.1, 0.45, 1) == "show"
    assert on_trial(_track(2), True, 0.1, 0.45, 2) == "show"
    assert on_trial(_track(-6, detector_score=None), True, 0.1, 0.45, 2) == "show"


def _ids(confirm_frames: int) -> list[list[int]]:
    """Track ids per frame: a still hand on every frame, a second hand on frame 5 alone; detector on every frame."""
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=DotDetector())
    tracker = HandTracker(predictor, TrackingConfig(detect_every=1, confirm_frames=confirm_frames))
    out = []
    for i in range(10):
        hands = [dot_hand_keypoints(STILL)] + ([dot_hand_keypoints(FLASH)] if i == 5 else [])
        out.append([h.track_id for h in tracker.update(draw_dot_hands(SIZE, hands), i / 25)])
    return out


def test_a_hand_seen_on_one_frame_is_not_shown_and_a_new_hand_waits_one_frame() -> None:
    """At 2 frames the still hand is shown from frame 1 (one frame late) as id 0, and the hand of frame 5 alone is
    never shown nor takes an id; at 1 frame (as before the rule) the still hand is shown from frame 0 and the hand of
    frame 5 is shown there as id 1."""
    assert _ids(1) == [[0]] * 5 + [[0, 1]] + [[0]] * 4
    assert _ids(2) == [[]] + [[0]] * 9


def test_confirm_frames_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="confirm_frames >= 1"):
        TrackingConfig(confirm_frames=0)
