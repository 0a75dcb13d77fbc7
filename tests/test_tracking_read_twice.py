"""A detection of part of a followed hand (its fingers boxed as a hand) starts no track of its own: its keypoints lie
mostly on the followed hand's (``merging.drop_read_twice``), while a second hand inside a followed hand's box has
keypoints of its own and is kept; stubs of ``dot_hands`` for the networks, the tracker itself real."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from dot_hands import DotBackend, DotDetector, dot_hand_keypoints, draw_dot_hands

from handpose.detection.detector import Detection
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.inference.smoothing import OneEuroFilter, SmoothingConfig
from handpose.inference.tracking import HandTracker, Track, TrackingConfig
from handpose.inference.tracking.merging import drop_read_twice

SIZE = (400, 200)  # frame width, height
CENTRE = (200.0, 100.0)  # the one hand's centre, still


@dataclass
class BoxedTwiceDetector(DotDetector):
    """Boxes the dot hand as ``DotDetector`` (score 0.9); from its second run on also a second box on the same hand,
    after the first, scored 0.5: 48 x 28 px over the hand's top right and past it (a part of a hand, as refinement
    boxes it where the keypoints read in the part's crop spread past the hand)."""

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        found = super().detect(image_bgr)
        if self.calls > 1:
            x, y = CENTRE
            found.append(Detection(np.array([x - 8.0, y - 24.0, 48.0, 28.0]), 0.5, False, 0.2))
        return found


def test_a_followed_hand_boxed_again_starts_no_track() -> None:
    """The second box at the second detection (frame 10) overlaps the hand's (41 x 45 px, the detector's) by 0.31 and
    lies 0.56 inside it, so the tracks' merges of boxes keep both on that frame; its crop holds the whole hand, so its
    keypoints are the hand's own, all 21 shared: the hand read twice starts no track. Before, it was shown as a second
    hand, id 1, on frame 10 (merged into the hand on frame 11, their keypoints' boxes then one)."""
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=BoxedTwiceDetector())
    tracker = HandTracker(predictor, TrackingConfig(detect_every=10))
    for i in range(14):
        hands = tracker.update(draw_dot_hands(SIZE, [dot_hand_keypoints(CENTRE)]), i / 25)
        assert [h.track_id for h in hands] == [0], (i, [h.track_id for h in hands])
        assert np.abs(hands[0].keypoints - dot_hand_keypoints(CENTRE)).max() < 2.0, i
    assert tracker.detector_runs == 2


def test_merge_points_of_the_tracking_config_turns_the_rule_off_without_refinement() -> None:
    """The predictor unrefined (``refine`` None, as ``--refine-passes 0``): the rule runs at the predictor's default
    share unless ``TrackingConfig.merge_points`` says otherwise; at 1 the part boxed at frame 10 is a second hand,
    id 1, as before the rule. Before, the tracker took the share from the predictor's refinement alone, so with none
    it could not be turned off (``--merge-points`` was dropped with ``--refine-passes 0``)."""
    ids = {}
    for share in (None, 1.0):
        predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=BoxedTwiceDetector())
        assert predictor.refine is None
        tracker = HandTracker(predictor, TrackingConfig(detect_every=10, merge_points=share))
        frame = draw_dot_hands(SIZE, [dot_hand_keypoints(CENTRE)])
        ids[share] = [[h.track_id for h in tracker.update(frame, i / 25)] for i in range(11)]
    assert ids[None] == [[0]] * 11
    assert ids[1.0] == [[0]] * 10 + [[0, 1]]


def _track(track_id: int, centre: tuple[float, float], spread: float) -> Track:
    """A track (id < 0: started on this frame) boxed on the dot hand at ``centre`` of that ``spread``."""
    points = dot_hand_keypoints(centre, spread)
    lo, hi = points.min(axis=0), points.max(axis=0)
    return Track(track_id, np.concatenate([lo, hi - lo]), False, 0.9, 0.2, OneEuroFilter(SmoothingConfig()))


def test_a_second_hand_inside_a_followed_hands_box_is_kept_and_a_reading_of_its_fingers_is_not() -> None:
    """A followed hand of spread 3 (108 x 120 px box); a new hand of spread 1 inside its box, its keypoints between
    the followed hand's, is kept; a new reading with 12 of its 21 keypoints on the followed hand's (the rest between
    them) goes; 10 of 21 is under half, kept. The followed track drops no reading ranked above it, and none where the
    detector did not find it on this frame (a hand passing behind another, its track reading the front hand)."""
    big = dot_hand_keypoints((200, 100), 3.0)  # (21, 2)
    small = dot_hand_keypoints((200 + 13.5, 100 + 15), 1.0)  # between the big hand's dots (27 x 30 px apart)
    reading12 = np.where(np.arange(21)[:, None] < 12, big, big + [13.5, 15.0])
    reading10 = np.where(np.arange(21)[:, None] < 10, big, big + [13.5, 15.0])
    points = [big, small, reading12, reading10]
    tracks = [_track(0, (200, 100), 3.0), _track(-1, (213.5, 115), 1.0), _track(-2, (230, 100), 3.0),
              _track(-3, (230, 100), 3.0)]
    ranks = np.array([0.8, 0.7, 0.7, 0.7])  # (4,)
    found = {0, -1, -2, -3}  # the detector's hands on this frame
    assert drop_read_twice(tracks, points, ranks, found, 0.5).tolist() == [0, 1, 3]
    assert drop_read_twice(tracks, points, ranks, found, 1.0).tolist() == [0, 1, 2, 3]
    assert drop_read_twice(tracks, points, np.array([0.6, 0.7, 0.7, 0.7]), found, 0.5).tolist() == [0, 1, 2, 3]
    assert drop_read_twice(tracks, points, ranks, {-1, -2, -3}, 0.5).tolist() == [0, 1, 2, 3]
