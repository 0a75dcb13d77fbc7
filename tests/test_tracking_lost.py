"""A hand lost for a few frames (hidden, or missed by the detector) keeps its track id when it comes back where it
was, within ``TrackingConfig.lost_frames``; stubs of ``dot_hands`` for the networks, the tracker itself real."""

from __future__ import annotations

import numpy as np
import pytest
from dot_hands import DotBackend, DotDetector, dot_hand_keypoints, draw_dot_hands

from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.inference.smoothing import SmoothingConfig
from handpose.inference.tracking import HandTracker, TrackingConfig

SIZE = (400, 200)  # frame width, height
NO_SMOOTH = SmoothingConfig(enabled=False)


def _tracker(detector: DotDetector, lost_frames: int = 8, smoothing: SmoothingConfig = NO_SMOOTH) -> HandTracker:
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=detector)
    return HandTracker(predictor, TrackingConfig(detect_every=10, lost_frames=lost_frames, smoothing=smoothing))


def _ids_with_one_hidden(hidden: int, lost_frames: int,
                         frames: int = 30) -> tuple[list[dict[int, np.ndarray]], list[int]]:
    """Two hands, the left one still at x 80, the right one moving left 3 px a frame from x 330 and hidden on
    ``hidden`` frames from frame 12 (the detector's turns: frames 0, 10, 20, ...): per frame, each reported track
    id's hand centre (mean keypoint); and the frames the detector ran on."""
    tracker = _tracker(DotDetector(), lost_frames)
    out, detected = [], []
    for i in range(frames):
        hands = [dot_hand_keypoints((80, 100))]
        if not 12 <= i < 12 + hidden:
            hands.append(dot_hand_keypoints((330 - 3 * i, 100)))
        runs = tracker.detector_runs
        out.append({h.track_id: h.keypoints.mean(axis=0) for h in tracker.update(draw_dot_hands(SIZE, hands), i / 25)})
        if tracker.detector_runs > runs:
            detected.append(i)
    return out, detected


@pytest.mark.parametrize("hidden", [2, 6])
def test_a_hand_hidden_for_less_than_the_grace_keeps_its_id_and_the_other_never_takes_it(hidden: int) -> None:
    """Followed for 12 frames (more than lost_frames), the right hand is looked for on every frame it is hidden and
    found on the first frame it is back, under its own id."""
    frames, detected = _ids_with_one_hidden(hidden, lost_frames=8)
    for i, seen in enumerate(frames):
        assert seen[0][0] < 120, i  # the still hand keeps id 0 throughout
        if 12 <= i < 12 + hidden:
            assert list(seen) == [0], i  # the hidden hand is not reported, nor its id given to the other
        else:
            assert sorted(seen) == [0, 1] and seen[1][0] > 150, i  # back under its own id
    back = 12 + hidden  # the detector's turns, each hidden frame after the one it was lost on, the one it is back on
    assert detected == [0, 10, *range(13, back + 1), 20]  # the looking for it does not move the detector's turns


def test_a_hand_hidden_for_longer_than_the_grace_comes_back_under_a_new_id() -> None:
    """Hidden on frames 12-21, 10 frames: back (found at the next scheduled detection, frame 30), it is a new hand,
    2. With the grace off, so is a hand hidden 2 frames (found at frame 20), as before the grace existed."""
    frames, _ = _ids_with_one_hidden(10, lost_frames=8, frames=32)
    assert {k for seen in frames[22:] for k in seen} == {0, 2} and sorted(frames[-1]) == [0, 2]
    off, detected = _ids_with_one_hidden(2, lost_frames=0)
    assert {k for seen in off[14:] for k in seen} == {0, 2} and sorted(off[-1]) == [0, 2]
    assert detected == [0, 10, 20]


def test_a_hand_seen_briefly_then_lost_does_not_make_the_detector_run_every_frame() -> None:
    """A second hand shown on frames 10-11 only (a false hand found at one detection, say): lost after fewer frames
    than lost_frames, it keeps its id for a while but is not looked for on every frame: the detector runs on its
    turns alone."""
    detector = DotDetector()
    tracker = _tracker(detector)
    for i in range(25):
        hands = [dot_hand_keypoints((80, 100))] + ([dot_hand_keypoints((300, 100))] if 10 <= i < 12 else [])
        assert len(tracker.update(draw_dot_hands(SIZE, hands), i / 25)) == len(hands), i
    assert detector.calls == 3  # frames 0, 10 and 20


@pytest.mark.parametrize("lost_frames", [0, 8])
def test_a_hand_appearing_while_one_is_looked_for_waits_for_the_detectors_turn(lost_frames: int) -> None:
    """The right hand hidden on frames 12-17 is looked for on every frame (lost_frames 8); a third hand appearing
    between them on frame 13 is first shown on frame 20, the detector's turn, as with no hand looked for (lost_frames
    0): the runs made for a lost hand bring it back and start no track (on rendered clips they found false hands,
    which were then followed, 14 of the 28 hand-frames they added)."""
    tracker = _tracker(DotDetector(), lost_frames)
    first = None
    for i in range(24):
        hands = [dot_hand_keypoints((80, 100))]
        if not 12 <= i < 18:
            hands.append(dot_hand_keypoints((330 - 3 * i, 100)))
        if i >= 13:
            hands.append(dot_hand_keypoints((190, 100)))
        seen = {h.track_id: h.keypoints.mean(axis=0)[0] for h in tracker.update(draw_dot_hands(SIZE, hands), i / 25)}
        if first is None and any(abs(x - 190) < 2 for x in seen.values()):
            first = i
    assert first == 20


def test_a_hand_appearing_elsewhere_while_one_is_lost_takes_a_new_id() -> None:
    """Hand 0 hidden on frames 12-14; on frame 13 another hand appears far from where it was: that one is 1 (a lost
    track blocks no id), and hand 0 comes back as 0."""
    tracker = _tracker(DotDetector())
    for i in range(18):
        hands = [] if 12 <= i < 15 else [dot_hand_keypoints((80, 100))]
        if i >= 13:
            hands.append(dot_hand_keypoints((320, 100)))
        seen = {h.track_id: h.keypoints.mean(axis=0)[0] for h in tracker.update(draw_dot_hands(SIZE, hands), i / 25)}
        expected = ({0: 80} if not 12 <= i < 15 else {}) | ({1: 320} if i >= 13 else {})
        assert seen.keys() == expected.keys() and all(abs(seen[k] - x) < 2 for k, x in expected.items()), (i, seen)


def test_a_hand_back_from_hiding_is_not_smoothed_across_the_gap() -> None:
    """Heavy smoothing (0.05 Hz at rest): a hand hidden 5 frames comes back 24 px on; its filter starts afresh, so it
    is drawn where it is, not dragged from where it was hidden (the old filter put it 33 px off)."""
    tracker = _tracker(DotDetector(), smoothing=SmoothingConfig(min_cutoff=0.05, beta=0.0))
    for i in range(12):
        kp = dot_hand_keypoints((100 + 4 * i, 100))
        hands = tracker.update(draw_dot_hands(SIZE, [] if 4 <= i < 9 else [kp]), i / 25)
        if i == 9:
            assert [h.track_id for h in hands] == [0]
            assert np.abs(hands[0].keypoints - kp).max() < 1.5


def test_a_hand_the_detector_calls_the_other_side_does_not_take_the_lost_ones_id() -> None:
    """A right hand (the detector sure of it) hidden 3 frames; where it was, the detector then sees a left hand:
    another hand, a new id."""
    detector = DotDetector(is_left=False)
    tracker = _tracker(detector)
    ids = []
    for i in range(8):
        detector.is_left = i >= 5
        hands = tracker.update(draw_dot_hands(SIZE, [] if 2 <= i < 5 else [dot_hand_keypoints((150, 100))]), i / 25)
        ids.append([h.track_id for h in hands])
    assert ids == [[0], [0], [], [], [], [1], [1], [1]]


def test_lost_frames_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="lost_frames >= 0"):
        TrackingConfig(lost_frames=-1)


def test_of_a_hand_and_a_finger_boxed_beside_it_the_hand_takes_the_lost_id() -> None:
    """A large hand hidden on frames 2-3; back, the detector boxes one of its fingers first, then the whole hand.
    Taken in the detector's order, the finger took the lost id and the hand a new one (the finger's track then
    merged away): pairs are taken best first, so the hand is 0 again."""
    from given_boxes import BoxesDetector

    from handpose.detection.detector import Detection

    kp = dot_hand_keypoints((160, 100), spread=1.6)  # its box is about 80 x 72 px
    lo, hi = kp.min(axis=0) - 3, kp.max(axis=0) + 3
    whole = Detection(np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]]), 0.8, False, 0.2)
    finger = Detection(np.array([hi[0] - 26, lo[1] - 2, 25, 50.0]), 0.9, False, 0.2)  # IoU 0.22 with the hand
    detector = BoxesDetector([])
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=detector)
    tracker = HandTracker(predictor, TrackingConfig(detect_every=1, smoothing=NO_SMOOTH))
    ids = []
    for i in range(6):
        hidden = 2 <= i < 4
        detector.detections = [] if hidden else [whole] if i < 2 else [finger, whole]
        ids.append([h.track_id for h in tracker.update(draw_dot_hands(SIZE, [] if hidden else [kp]), i / 25)])
    assert ids == [[0], [0], [], [], [0], [0]]
