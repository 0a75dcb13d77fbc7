"""How a track's next box is made from its keypoints, how many hands are followed, and how a fresh detection
updates the track it matches (stubs of ``dot_hands`` for the networks)."""

from __future__ import annotations

import numpy as np
from dot_hands import DotBackend, DotDetector, dot_hand_keypoints, draw_dot_hands

from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.inference.smoothing import SmoothingConfig
from handpose.inference.tracking import HandTracker, TrackingConfig, box_from_keypoints

NO_SMOOTH = SmoothingConfig(enabled=False)


def test_the_next_box_is_the_tight_box_of_the_confident_keypoints() -> None:
    kp = np.zeros((21, 2))
    kp[:3] = [(10, 20), (30, 60), (20, 40)]
    scores = np.zeros(21)
    scores[:3] = 0.1  # exactly the threshold: they count
    np.testing.assert_allclose(box_from_keypoints(kp, scores, 0.1), [10, 20, 20, 40])
    scores[2] = 0.09  # two keypoints are too few for a box
    assert box_from_keypoints(kp, scores, 0.1) is None


def test_a_flat_row_of_keypoints_keeps_a_quarter_of_its_length_as_depth() -> None:
    """Keypoints along y = 50 from x = 10 to 50 (a finger seen edge-on): 40 x 10 about the same centre."""
    kp = np.zeros((21, 2))
    kp[:3] = [(10, 50), (30, 50), (50, 50)]
    scores = np.zeros(21)
    scores[:3] = 1.0
    np.testing.assert_allclose(box_from_keypoints(kp, scores, 0.5), [10, 45, 40, 10])
    kp[:3] = [(10, 50), (11, 50.5), (11.5, 51)]  # all within 2 px: no box to follow
    assert box_from_keypoints(kp, scores, 0.5) is None


def test_no_more_tracks_than_max_hands() -> None:
    frame = draw_dot_hands((400, 200), [dot_hand_keypoints((x, 100)) for x in (60, 200, 340)])
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=DotDetector())
    tracker = HandTracker(predictor, TrackingConfig(detect_every=1, max_hands=2, smoothing=NO_SMOOTH))
    for i in range(3):
        assert len(tracker.update(frame, i / 25)) == 2


def test_a_matched_detection_gives_its_track_the_fresh_side() -> None:
    """The detector calls the hand right, then left on its next run (frame 5): the track it matches (the same
    hand, moved 2 px a frame) keeps its id and takes the new side."""
    detector = DotDetector(is_left=False)
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=detector)
    tracker = HandTracker(predictor, TrackingConfig(detect_every=5, smoothing=NO_SMOOTH))
    for i in range(8):
        detector.is_left = i >= 5
        hands = tracker.update(draw_dot_hands((320, 200), [dot_hand_keypoints((100 + 2 * i, 100))]), i / 25)
        assert len(hands) == 1 and hands[0].track_id == 0, i
        assert hands[0].is_left == (i >= 5), i


def test_a_hand_whose_keypoints_mostly_vanish_is_not_followed() -> None:
    """3 of 21 dots left: a mean keypoint score of about 3/21, under min_keypoint_score 0.2, although 3 keypoints
    still make a box. The track is lost; the detector, run again on that frame, vouches for the dots, so they are
    shown but not followed."""
    detector = DotDetector()
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=detector)
    tracker = HandTracker(predictor, TrackingConfig(detect_every=0, min_keypoint_score=0.2, smoothing=NO_SMOOTH))
    kp = dot_hand_keypoints((150, 100))
    assert len(tracker.update(draw_dot_hands((320, 200), [kp]), 0.0)) == 1 and len(tracker.tracks) == 1
    for i in range(1, 4):
        hands = tracker.update(draw_dot_hands((320, 200), [kp[:3]]), i / 25)
        assert float(np.mean(hands[0].scores)) < 0.2, i
        assert tracker.tracks == [], i
    assert detector.calls == 4  # frame 0, then frame 1 (the track lost: looked again), 2 and 3 (nothing followed)


def test_hands_come_out_in_track_order() -> None:
    """The hand with fewer dots (a lower keypoint score) was found first: it stays first, whatever the ranking."""
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=DotDetector())
    tracker = HandTracker(predictor, TrackingConfig(detect_every=3, smoothing=NO_SMOOTH))
    for i in range(5):
        a, b = dot_hand_keypoints((60, 100)), dot_hand_keypoints((250, 100))
        hands = tracker.update(draw_dot_hands((320, 200), [a[:15], b]), i / 25)
        assert [h.track_id for h in hands] == [0, 1], i
        assert np.mean(hands[0].scores) < np.mean(hands[1].scores)


def test_a_frame_of_another_size_starts_the_tracks_over() -> None:
    """The same hand at the same pixels, but the frame shrinks from 320 x 200 to 200 x 160: the old track's box
    was of the other frame, so the hand gets a new track (and a fresh filter) rather than carrying on."""
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=DotDetector())
    tracker = HandTracker(predictor, TrackingConfig(detect_every=0, smoothing=NO_SMOOTH))
    kp = dot_hand_keypoints((100, 80))
    assert [h.track_id for h in tracker.update(draw_dot_hands((320, 200), [kp]), 0.0)] == [0]
    assert [h.track_id for h in tracker.update(draw_dot_hands((320, 200), [kp]), 0.04)] == [0]
    assert [h.track_id for h in tracker.update(draw_dot_hands((200, 160), [kp]), 0.08)] == [1]


def test_a_track_is_ranked_by_keypoints_and_detector_together() -> None:
    """The rank that decides which of two overlapping tracks stays is k^(1-w) * d^w (worked by hand here): a track
    with the better keypoints but a detector probability near zero ranks below one the detector is sure of; with no
    detector it is the keypoints alone."""
    from handpose.inference.smoothing import OneEuroFilter
    from handpose.inference.tracking import Track, track_rank

    def track(quality: float, detector: float | None) -> Track:
        return Track(0, np.zeros(4), False, detector, None, OneEuroFilter(NO_SMOOTH), quality=quality,
                     detector_score=detector)

    sharp_but_unseen, seen = track(0.8, 0.01), track(0.5, 0.9)
    assert abs(track_rank(sharp_but_unseen, 0.5) - np.sqrt(0.8 * 0.01)) < 1e-12  # 0.089
    assert abs(track_rank(seen, 0.5) - np.sqrt(0.5 * 0.9)) < 1e-12  # 0.671
    assert track_rank(seen, 0.5) > track_rank(sharp_but_unseen, 0.5)
    assert abs(track_rank(seen, 0.25) - 0.5 ** 0.75 * 0.9 ** 0.25) < 1e-12
    assert track_rank(track(0.8, None), 0.5) == 0.8 and track_rank(track(0.8, 0.3), 0.0) == 0.8


def test_a_hand_overlapping_a_track_keeps_it_before_another_matched_at_the_edge() -> None:
    """A big followed hand reaching the bottom edge, and a second, smaller hand coming in there inside its box and
    scored higher by the detector: matching each detection in turn gave the newcomer the big hand's track (both boxes
    at the edge, the small one inside the other) and started a new track on the big hand's own detection, so the
    big hand changed id and the newcomer had no track. A detection overlapping a track by ``match_iou`` takes it
    first; the edge rule then serves the detections left (a hand leaving the picture)."""
    from given_boxes import BoxesDetector

    from handpose.detection.detector import Detection

    big, small = np.array([100.0, 60.0, 120.0, 140.0]), np.array([180.0, 160.0, 30.0, 40.0])  # both reach y = 200
    detector = BoxesDetector([Detection(small, 0.9, False, 0.2), Detection(big, 0.8, False, 0.2)])
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=detector)
    tracker = HandTracker(predictor, TrackingConfig(detect_every=1, smoothing=NO_SMOOTH))
    followed = tracker._new_track(big + [2.0, -2.0, 0.0, 0.0], False, 0.8, 0.2)  # the big hand on the last frame
    tracker.tracks = [followed]
    found = tracker._detect(draw_dot_hands((320, 200), []))
    assert len(tracker.tracks) == 2 and found == {t.id for t in tracker.tracks}
    np.testing.assert_allclose(followed.box, big)  # its own detection, not the newcomer's
    (newcomer,) = [t for t in tracker.tracks if t is not followed]
    np.testing.assert_allclose(newcomer.box, small)
