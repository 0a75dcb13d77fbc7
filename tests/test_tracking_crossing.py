"""Two hands crossing, one passing behind the other: its track follows its keypoints onto the front hand between
detections, and of the two tracks then on one hand the front hand's own keeps it (and its id), whatever the detector
scored them; stubs of ``dot_hands`` for the networks, the tracker itself real."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from dot_hands import DotBackend, DotDetector, dot_hand_keypoints, draw_dot_hands

from handpose.detection.detector import Detection
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.inference.smoothing import SmoothingConfig
from handpose.inference.tracking import HandTracker, TrackingConfig

SIZE = (400, 200)  # frame width, height


class LeftFirstDetector(DotDetector):
    """Boxes the dot hands as ``DotDetector``; a hand in the left half of the frame scores 0.99, the others 0.2."""

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        return [replace(d, score=0.99 if d.box[0] + d.box[2] / 2 < SIZE[0] / 2 else 0.2)
                for d in super().detect(image_bgr)]


def _back(i: int) -> float:
    return 100.0 + 5 * i  # the hand passing behind moves right 5 px a frame


def _front(i: int) -> float:
    return 290.0 - 3 * i  # the front hand moves left 3 px a frame


def test_the_hand_passing_behind_does_not_take_the_front_hands_track() -> None:
    """The back hand (id 0, the detector's favourite at frame 10) is hidden once the centres are under 42 px apart
    (frame 19): its track reads the front hand's dots at the edge of its crop and moves onto them. Of the two tracks
    then on the front hand (frame 20, the detector scoring it 0.2), the front hand's own, on it three frames before,
    stays with its id 1, and the one that jumped is lost, though ranked higher. Before, the better ranked stayed: from
    frame 20 the front hand was 0."""
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=LeftFirstDetector())
    tracker = HandTracker(predictor, TrackingConfig(detect_every=10, smoothing=SmoothingConfig(enabled=False)))
    for i in range(26):
        back_hidden = abs(_front(i) - _back(i)) < 42
        hands = [dot_hand_keypoints((_front(i), 100))]
        if not back_hidden:
            hands.append(dot_hand_keypoints((_back(i), 100)))
        seen = {h.track_id: h.keypoints.mean(axis=0)[0] for h in tracker.update(draw_dot_hands(SIZE, hands), i / 25)}
        on_front = [k for k, x in seen.items() if abs(x - _front(i)) < 10]
        assert on_front == [1], (i, seen)  # the front hand is 1 throughout, and no other id is on it
        assert back_hidden or abs(seen[0] - _back(i)) < 2, (i, seen)
    assert [t.id for t in tracker.tracks] == [1] and [t.id for t in tracker.lost] == [0]


def test_the_hand_dropped_as_the_jumper_gets_its_id_back_where_it_was_before_the_jump() -> None:
    """As above, the back hand's track jumps onto the front hand and is dropped there (frame 20); the back hand,
    hidden on frames 19-21, then shows again at x 155, back where it was before the jump (its track's box 3 frames
    before, centre x 180), 70 px from the track's last box (the front hand's keypoints read at the edge of its crop,
    centre x 226): it is 0 again. Compared with the last box alone it was not brought back, and the detector's
    runs made to look for it start no track: it went unreported."""
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=LeftFirstDetector())
    tracker = HandTracker(predictor, TrackingConfig(detect_every=10, smoothing=SmoothingConfig(enabled=False)))
    for i in range(26):
        hands = [dot_hand_keypoints((_front(i), 100))]
        if i < 19 or i >= 22:
            hands.append(dot_hand_keypoints((_back(i) if i < 19 else 155, 100)))
        seen = {h.track_id: h.keypoints.mean(axis=0)[0] for h in tracker.update(draw_dot_hands(SIZE, hands), i / 25)}
        assert abs(seen[1] - _front(i)) < 10, (i, seen)  # the front hand is 1 throughout
        assert set(seen) <= {0, 1}, (i, seen)  # no new id, for the back hand or another
        if i >= 22:
            assert sorted(seen) == [0, 1] and abs(seen[0] - 155) < 2, (i, seen)
        if i == 21:
            assert [t.id for t in tracker.tracks] == [1] and [t.id for t in tracker.lost] == [0]  # dropped, lost
