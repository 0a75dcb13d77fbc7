"""Keypoint refinement of detections (``inference/refine``), with the shipped keypoint model on the checked-in
renders: a loose box moves onto its hand, proposals on one hand merge, a hand-less proposal is dropped by the
keypoint score alone, and the refined detection crops exactly as a box given by hand."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from given_boxes import BoxesDetector

from handpose.data.crop import sample_box
from handpose.detection.detector import Detection
from handpose.detection.metrics import box_iou
from handpose.inference.predictor import Predictor
from handpose.inference.refine import RefineConfig, hand_box, hand_score, refine_detections

KEEP_ALL = RefineConfig(hand_threshold=0.0)


@pytest.fixture(scope="module")
def hands(checked_in_hands: list) -> list:
    return checked_in_hands[:12]


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_pretrained(refine=KEEP_ALL)


def loose(box: np.ndarray, shift: tuple[float, float], scale: float) -> np.ndarray:
    """``box`` moved by ``shift`` of its size and grown by ``scale`` about its new centre."""
    moved = box.astype(np.float64).copy()
    centre = moved[:2] + moved[2:] / 2.0 + np.array(shift) * box[2:]
    return np.concatenate([centre - moved[2:] * scale / 2.0, moved[2:] * scale])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(box_iou(np.asarray(a, np.float64)[None], np.asarray(b, np.float64)[None])[0, 0])


def test_a_loose_box_moves_onto_its_hand(hands: list, predictor: Predictor) -> None:
    before, after = [], []
    for s in hands:
        img = cv2.imread(str(s.image_path))
        truth = sample_box(s)
        start = loose(truth, (0.25, -0.2), 1.7)
        found = refine_detections(predictor, img, [Detection(start, 0.3, bool(s.is_left), 0.9 * s.is_left)],
                                  KEEP_ALL)
        assert len(found) == 1
        before.append(iou(start, truth))
        after.append(iou(found[0].crop_box, truth))
    assert np.mean(after) > np.mean(before) + 0.2, (before, after)
    assert np.mean(np.array(after) >= 0.5) >= 0.75, after


def test_proposals_on_one_hand_merge_into_one(hands: list, predictor: Predictor) -> None:
    merged = 0
    for s in hands[:6]:
        img = cv2.imread(str(s.image_path))
        truth = sample_box(s)
        props = [Detection(loose(truth, d, 1.3), 0.2 + 0.1 * i, bool(s.is_left), 0.5)
                 for i, d in enumerate([(0.0, 0.0), (0.08, 0.05), (-0.06, 0.07)])]
        merged += int(len(refine_detections(predictor, img, props, KEEP_ALL)) == 1)
    assert merged >= 5


def test_a_proposal_without_a_hand_is_dropped_by_its_keypoint_score(predictor: Predictor) -> None:
    grey = np.full((240, 320, 3), 127, np.uint8)
    proposal = [Detection(np.array([100.0, 60.0, 80.0, 90.0]), 0.9, False, 0.2)]
    kept = refine_detections(predictor, grey, proposal, KEEP_ALL)
    assert len(kept) == 1 and kept[0].score < RefineConfig().hand_threshold  # what drops it is the score
    assert refine_detections(predictor, grey, proposal, RefineConfig()) == []


def test_zero_passes_returns_the_detections_untouched(hands: list, predictor: Predictor) -> None:
    img = cv2.imread(str(hands[0].image_path))
    dets = [Detection(sample_box(hands[0]).astype(np.float64), 0.4, False, 0.5)]
    assert refine_detections(predictor, img, dets, RefineConfig(passes=0)) == dets


def test_the_refined_hand_crops_like_a_given_box(hands: list, predictor: Predictor) -> None:
    s = hands[1]
    img = cv2.imread(str(s.image_path))
    proposal = Detection(loose(sample_box(s), (0.1, 0.1), 1.4), 0.35, False, 0.5)
    with_det = replace(predictor, detector=BoxesDetector([proposal]))
    (det,) = with_det.detect_hands(img)
    assert det.detector_score == pytest.approx(0.35) and det.side_settled and det.left_score == 0.5
    assert 0.0 < det.score < 0.35 ** KEEP_ALL.detector_weight  # the keypoint peak (< 1) times d^w
    np.testing.assert_allclose(det.box, hand_box(det.crop_box, KEEP_ALL.margin, img.shape[:2]))
    (hand,) = with_det.predict(img)
    same = predictor.predict(img, box=det.crop_box, is_left=det.is_left)
    np.testing.assert_allclose(hand.keypoints, same.keypoints, atol=1e-4)
    np.testing.assert_allclose(hand.box, det.box)  # the whole hand's box; the crop came from the keypoints' box
    np.testing.assert_allclose(hand.matrix, same.matrix)
    assert hand.score == pytest.approx(det.score) and hand.detector_score == pytest.approx(0.35)
    assert hand.to_dict()["detector_score"] == pytest.approx(0.35)


def test_from_file_refines_by_default_and_zero_passes_turns_it_off() -> None:
    with_det = Predictor.from_pretrained(detector="detector")
    assert with_det.refine == RefineConfig()
    assert with_det.detector.threshold == RefineConfig().proposal_threshold  # proposals come from low scores
    plain = Predictor.from_pretrained(detector="detector", refine=RefineConfig(passes=0))
    assert plain.refine is None and plain.detector.threshold == plain.detector.config.score_threshold


@pytest.mark.parametrize("bad", [dict(passes=-1), dict(hand_threshold=1.5), dict(margin=-0.1),
                                 dict(detector_weight=1.5), dict(max_proposals=-2), dict(merge_iou=-0.1)])
def test_bad_settings_are_named(bad: dict) -> None:
    with pytest.raises(ValueError, match=f"RefineConfig.{next(iter(bad))}"):
        RefineConfig(**bad)


def test_any_detectors_hands_are_refined(hands: list, predictor: Predictor) -> None:
    from collections import namedtuple

    Found = namedtuple("Found", "box score is_left left_score")  # a user's own detector's results
    s = hands[2]
    img = cv2.imread(str(s.image_path))
    found = refine_detections(predictor, img, [Found(tuple(sample_box(s)), 0.5, False, 0.5)], KEEP_ALL)
    assert len(found) == 1 and isinstance(found[0], Detection) and found[0].detector_score == 0.5


def test_the_hand_box_is_the_keypoint_box_widened_by_its_longer_side_and_cut_to_the_image() -> None:
    # a hand seen edge-on: its keypoints' box is thin; every side gains 0.05 * 100 = 5 px
    np.testing.assert_allclose(hand_box(np.array([50.0, 60.0, 100.0, 10.0]), 0.05, (480, 640)),
                               [45.0, 55.0, 110.0, 20.0])
    # at the image's corner: cut to it, as the hand's visible pixels are
    np.testing.assert_allclose(hand_box(np.array([2.0, 430.0, 40.0, 48.0]), 0.1, (480, 640)),
                               [0.0, 425.2, 46.8, 54.8])


def test_the_hand_score_mixes_keypoint_peak_and_detector_probability() -> None:
    assert hand_score(0.81, 0.0016, 0.25) == pytest.approx(0.81 ** 0.75 * 0.2)
    assert hand_score(0.7, 0.1, 0.0) == pytest.approx(0.7)  # weight 0: the keypoint peak alone
    assert hand_score(0.9, 0.9, 0.2) > hand_score(0.9, 0.3, 0.2) > hand_score(0.6, 0.3, 0.2)


def test_the_whole_image_proposal_is_scored_by_its_keypoints_alone(hands: list, predictor: Predictor) -> None:
    s = hands[3]
    img = cv2.imread(str(s.image_path))  # a one-hand render: the hand fills most of it
    (found,) = refine_detections(predictor, img, [], replace(KEEP_ALL, whole_image=True))
    assert found.detector_score == 0.0 and found.score > 0.5  # not zeroed by the missing detector probability


class BoxFillingKeypoints:
    """A stand-in keypoint network for the merge rule alone: each proposal's keypoints span its own box (so the
    refined box is the proposal's) and score ``score`` of the proposal, set per box in ``scores``."""

    def __init__(self, scores: dict[tuple[float, ...], float]) -> None:
        self.scores = scores

    def predict_detections(self, image_bgr: np.ndarray, detections: list) -> list:
        from types import SimpleNamespace

        out = []
        for det in detections:
            box = det.crop_box if det.crop_box is not None else det.box
            x, y, w, h = box
            pts = np.stack(np.meshgrid(np.linspace(x, x + w, 7), np.linspace(y, y + h, 3)), -1).reshape(21, 2)
            score = self.scores[tuple(np.round(det.box, 3))]
            out.append(SimpleNamespace(keypoints=pts, scores=np.full(21, score), is_left=False))
        return out


def test_merge_cover_merges_a_box_around_a_better_hand_and_keeps_the_better() -> None:
    image = np.zeros((400, 400, 3), np.uint8)
    hand = np.array([100.0, 100.0, 80.0, 80.0])
    arm = np.array([90.0, 90.0, 100.0, 250.0])  # the hand and its forearm: IoU 0.26 with the hand, covers it all
    other = np.array([300.0, 20.0, 60.0, 60.0])  # a second hand elsewhere
    scores = {tuple(np.round(b, 3)): s for b, s in ((hand, 0.8), (arm, 0.6), (other, 0.7))}
    net = BoxFillingKeypoints(scores)
    props = [Detection(b, 0.5, False, 0.5) for b in (hand, arm, other)]
    config = RefineConfig(passes=1, hand_threshold=0.0, detector_weight=0.0, margin=0.0)
    plain = refine_detections(net, image, props, config)
    assert len(plain) == 3  # IoU alone keeps the arm box: it overlaps the hand's by 0.26
    merged = refine_detections(net, image, props, replace(config, merge_cover=0.7))
    assert [round(d.score, 2) for d in merged] == [0.8, 0.7]  # the arm box went; the hand and the other stayed
    np.testing.assert_allclose(merged[0].box, hand)
    scores[tuple(np.round(arm, 3))] = 0.9  # now the arm box scores better: it stays and the hand inside goes
    assert [round(d.score, 2) for d in refine_detections(net, image, props, replace(config, merge_cover=0.7))] == \
        [0.9, 0.7]


def test_proposals_far_below_a_hand_are_not_refined_again() -> None:
    image = np.zeros((400, 400, 3), np.uint8)
    hand, shape = np.array([100.0, 100.0, 80.0, 80.0]), np.array([250.0, 250.0, 60.0, 60.0])
    net = BoxFillingKeypoints({tuple(np.round(b, 3)): s for b, s in ((hand, 0.8), (shape, 0.2))})
    calls: list[int] = []
    run = net.predict_detections
    net.predict_detections = lambda img, dets: calls.append(len(dets)) or run(img, dets)  # count crops per pass
    props = [Detection(b, 0.5, False, 0.5) for b in (hand, shape)]
    config = RefineConfig(passes=2, hand_threshold=0.0, detector_weight=0.0, margin=0.0, prune_threshold=0.3)
    kept = refine_detections(net, image, props, config)
    assert calls == [2, 1] and [round(d.score, 2) for d in kept] == [0.8]  # the 0.2 shape was not cropped again
    calls.clear()
    kept = refine_detections(net, image, props, replace(config, prune_threshold=0.0))
    assert calls == [2, 2] and [round(d.score, 2) for d in kept] == [0.8, 0.2]


class GivenKeypoints:
    """A stand-in keypoint network for the keypoint merge rule: each proposal's (21, 2) keypoints and score are set
    per proposal box (its crop box on later passes is then the keypoints' own box)."""

    def __init__(self, reads: dict[tuple[float, ...], tuple[np.ndarray, float]]) -> None:
        self.reads = reads

    def predict_detections(self, image_bgr: np.ndarray, detections: list) -> list:
        from types import SimpleNamespace

        out = []
        for det in detections:
            points, score = self.reads[tuple(np.round(det.box, 3))]
            out.append(SimpleNamespace(keypoints=points, scores=np.full(21, score), is_left=False))
        return out


def test_shared_points_counts_keypoints_on_another_hands() -> None:
    from handpose.inference.refine import shared_points

    hand = np.random.default_rng(0).random((21, 2)) * 100.0  # (21, 2) in a 100 px hand
    finger = np.repeat(hand[5:9], 6, axis=0)[:21] + 2.0  # every keypoint 2.8 px from one of the hand's index joints
    apart = hand + 300.0
    shared = shared_points(np.stack([hand, finger, apart]), np.array([100.0, 30.0, 100.0]))  # (3, 3)
    assert shared[1, 0] == 1.0 and shared[0, 1] < 0.5  # the finger lies on the hand, not the hand on the finger
    assert shared[2, 0] == 0.0 and shared[0, 2] == 0.0
    np.testing.assert_array_equal(np.diag(shared), 1.0)


def test_merge_points_drops_a_finger_read_as_a_hand_and_keeps_other_hands() -> None:
    image = np.zeros((400, 400, 3), np.uint8)
    grid = np.stack(np.meshgrid(np.linspace(0, 80, 7), np.linspace(0, 80, 3)), -1).reshape(21, 2)  # (21, 2)
    hand_pts, other_pts = grid + 100.0, grid + [300.0, 20.0]
    finger_pts = np.repeat(hand_pts[14:21], 3, axis=0) + 1.0  # (21, 2) on the hand's bottom row of keypoints
    hand, finger, other = (np.array([100.0, 100.0, 80.0, 80.0]), np.array([95.0, 170.0, 95.0, 25.0]),
                           np.array([300.0, 20.0, 80.0, 80.0]))
    net = GivenKeypoints({tuple(np.round(hand, 3)): (hand_pts, 0.8), tuple(np.round(finger, 3)): (finger_pts, 0.6),
                          tuple(np.round(other, 3)): (other_pts, 0.7)})
    props = [Detection(b, 0.5, False, 0.5) for b in (hand, finger, other)]
    config = RefineConfig(passes=1, hand_threshold=0.0, detector_weight=0.0, margin=0.0, merge_points=1.0)
    assert [round(d.score, 2) for d in refine_detections(net, image, props, config)] == [0.8, 0.7, 0.6]
    merged = refine_detections(net, image, props, replace(config, merge_points=0.5))
    assert [round(d.score, 2) for d in merged] == [0.8, 0.7]  # the finger went; the hand and the other stayed
    net.reads[tuple(np.round(finger, 3))] = (finger_pts, 0.9)  # the better-scored finger stays: the hand is not on it
    assert [round(d.score, 2) for d in refine_detections(net, image, props, replace(config, merge_points=0.5))] == \
        [0.9, 0.8, 0.7]


def test_a_hand_threshold_under_the_pruning_lowers_it_and_one_above_leaves_it() -> None:
    low = RefineConfig(passes=2).at_hand_threshold(0.1)
    assert (low.hand_threshold, low.prune_threshold, low.passes) == (0.1, 0.1, 2)
    high = RefineConfig().at_hand_threshold(0.6)
    assert (high.hand_threshold, high.prune_threshold) == (0.6, RefineConfig().prune_threshold)
