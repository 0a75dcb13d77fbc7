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


def test_a_lost_hand_brought_back_is_checked_as_a_started_one() -> None:
    """Id 1 brought back on this frame (``back``) with 12 of its 21 keypoints on the followed hand 0's goes as a new
    track would; not brought back it is a followed hand and stays. Two hands brought back that read one hand: the
    better ranked stays, and at equal ranks neither drops the other."""
    big = dot_hand_keypoints((200, 100), 3.0)  # (21, 2)
    reading12 = np.where(np.arange(21)[:, None] < 12, big, big + [13.5, 15.0])
    tracks = [_track(0, (200, 100), 3.0), _track(1, (230, 100), 3.0)]
    ranks = np.array([0.8, 0.7])  # (2,)
    assert drop_read_twice(tracks, [big, reading12], ranks, {0, 1}, 0.5, back={1}).tolist() == [0]
    assert drop_read_twice(tracks, [big, reading12], ranks, {0, 1}, 0.5).tolist() == [0, 1]
    both = [_track(1, (200, 100), 3.0), _track(2, (230, 100), 3.0)]
    assert drop_read_twice(both, [big, reading12], ranks, {1, 2}, 0.5, back={1, 2}).tolist() == [0]
    assert drop_read_twice(both, [big, reading12], np.array([0.7, 0.7]), {1, 2}, 0.5, back={1, 2}).tolist() == [0, 1]


A_CENTRE, B_CENTRE = (200.0, 100.0), (200.0, 160.0)  # two dot hands, one above the other


@dataclass
class PartOfABoxedWhereBWasDetector(DotDetector):
    """Boxes hand A and, on its first run, hand B below it (score 0.9 each; a second hand's box apart from the first,
    as ``DotDetector`` splits only by columns); on its second run, with B gone, A and a box over A's lower part and
    past it towards where B was (score 0.5), whose crop holds all of A's dots but its top row."""

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        self.calls += 1
        found = []
        for centre in (A_CENTRE, B_CENTRE) if self.calls == 1 else (A_CENTRE,):
            lo = np.asarray(centre) - [20.0, 22.0]
            found.append(Detection(np.array([*lo, 41.0, 45.0]), 0.9, False, 0.2))
        if self.calls > 1:
            found.append(Detection(np.array([180.0, 100.0, 40.0, 50.0]), 0.5, False, 0.2))
        return found


def test_a_lost_hand_brought_back_on_a_followed_hands_keypoints_is_not_shown() -> None:
    """Hand B (id 1) is shown on frames 0-4 and gone from frame 5, kept as lost; at the detection of frame 10 a box
    over A's lower part, near B's last box, brings B back, and its crop reads A's keypoints (16 of 21 on A's): B
    is that hand read twice, not shown, and stays lost. Before, B was shown again on A on frame 10 (id 1) and followed
    there (merged into A only once their keypoints' boxes were one)."""
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5),
                          detector=PartOfABoxedWhereBWasDetector())
    tracker = HandTracker(predictor, TrackingConfig(detect_every=10, lost_frames=8))
    for i in range(14):
        hands = [dot_hand_keypoints(A_CENTRE)] + ([dot_hand_keypoints(B_CENTRE)] if i < 5 else [])
        ids = [h.track_id for h in tracker.update(draw_dot_hands(SIZE, hands), i / 25)]
        assert ids == ([0, 1] if i < 5 else [0]), (i, ids)
    assert tracker.detector_runs == 2
    assert [t.id for t in tracker.lost] == [1]


def _boxed(centre: tuple[float, float]) -> Detection:
    """A detection boxing the dot hand at ``centre`` as ``PartOfABoxedWhereBWasDetector`` does (41 x 45 px)."""
    lo = np.asarray(centre) - [20.0, 22.0]
    return Detection(np.array([*lo, 41.0, 45.0]), 0.9, False, 0.2)


def test_a_lost_hand_brought_back_and_read_twice_is_lost_again_as_it_was() -> None:
    """Hand B comes in from the left below hand A, 15 px a frame (frames 0-4), so it is lost on frame 5 with its box
    from before that quick move (frame 2's, at x 170) kept beside its last one (x 200). On frame 7 a box over A's
    lower part (the side left to the keypoint network) brings B back and its crop reads A's keypoints: B is A read
    twice and is lost again with its boxes, frame of last sight and side calls as they were on frame 6. On frame 8 B
    shows at x 155, near its box from before the move alone, and is 1 again. Before, B went back to the lost list
    with the part's keypoints' box on A as its last, none from before and the network's side call counted, and came
    back as 2."""
    from given_boxes import BoxesDetector

    detector = BoxesDetector([])
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5, mirror_left=True), detector=detector)
    tracker = HandTracker(predictor, TrackingConfig(detect_every=1, lost_frames=8,
                                                    smoothing=SmoothingConfig(enabled=False)))
    b_centres = {i: (140.0 + 15 * i, B_CENTRE[1]) for i in range(5)} | {8: (155.0, B_CENTRE[1])}
    ids, states = [], {}
    for i in range(9):
        detector.detections = [_boxed(A_CENTRE)] + ([_boxed(b_centres[i])] if i in b_centres else [])
        if i == 7:
            detector.detections.append(Detection(np.array([180.0, 100.0, 40.0, 50.0]), 0.5, False, 0.5))
        hands = [dot_hand_keypoints(A_CENTRE)] + ([dot_hand_keypoints(b_centres[i])] if i in b_centres else [])
        ids.append([h.track_id for h in tracker.update(draw_dot_hands(SIZE, hands), i / 25)])
        states[i] = [(t.id, t.box.round(1).tolist(), None if t.before is None else t.before.round(1).tolist(),
                      t.last_seen, t.streak, t.is_left, t.side_tally, t.side_told) for t in tracker.lost]
    assert ids == [[0, 1]] * 5 + [[0]] * 3 + [[0, 1]]
    assert states[6] and states[6][0][2] is not None and states[6][0][2][0] < states[6][0][1][0] - 20  # jumped
    assert states[7] == states[6]
