"""Keypoint refinement of detections: the keypoint network checks and re-boxes every hand the detector proposes.

The detector alone places its boxes loosely (median centre error about a fifth of the hand on held-out renders) and
scores background shapes almost as high as hands. The keypoint network sees each proposal at full resolution, so,
as MediaPipe's landmark model does for its palm detector, it both re-boxes and re-scores the hand:

1. **Proposals**: the detector's hands down to a low score (``proposal_threshold``; set on the detector by
   ``Predictor.from_file``), the best ``max_proposals`` of them, and with ``whole_image`` the whole image as one
   more (a hand that fills the picture is what the detector misses most).
2. **Passes** (``passes`` times): keypoints in each proposal's crop (both mirrors once when the detector's
   left/right call is a guess, ``Predictor.side_unsure``); the new crop box is the tight box of the keypoints that
   score at least ``box_score`` (``tracking.box_from_keypoints``, the box a video track follows), and the hand's
   score ``k^(1 - w) * d^w``: ``k`` the mean keypoint peak, ``d`` the detector's probability of the proposal, ``w``
   ``detector_weight``. Proposals that now cover one hand are merged (the better scored kept, IoU of their hand
   boxes over ``merge_iou``), and those scoring under ``prune_threshold`` are dropped before the next pass (even
   where ``hand_threshold`` is lower: set both; the command-line flags do): on the validation and test scenes no
   figure moved, even with every hand kept for AP, and refinement took 6-18% less time.
   With ``merge_cover`` under 1, refined hands whose boxes share more than that of the smaller box's area are
   one hand too, whichever box is the larger (``detection.codec.drop_covering``): a box of a hand with its forearm
   around a better-scored hand box, or a finger inside it. Off by default: on rendered scenes it loses hands whose
   finger box out-scores them (AP@0.5 -0.008 and -0.014 on the validation and test scenes), while on the real photos
   and clip it removed a third of the false hands (BENCHMARKS.md, "Merging boxes inside boxes"). With
   ``merge_points`` under 1, a hand more than that share of whose keypoints lie on a better-scored hand's keypoints
   (``shared_points``) is that hand too: a finger read as a hand, or one hand read once each side. 0.5 by default,
   with one pass: on the validation scenes one pass and two scored alike (AP@0.5 0.731 and 0.729) and 0.5 added
   0.011, so the cheaper one was taken, and the test scenes confirmed it (AP@0.5 0.779 against 0.759 for two passes
   without the merge); on the real photos and clip it removed a fifth to a third of the false hands (BENCHMARKS.md,
   "One pass, and hands that share keypoints merged").
3. **Verdict**: hands scoring under ``hand_threshold`` are dropped.

Each refined :class:`~handpose.detection.detector.Detection` carries two boxes: ``crop_box``, the keypoints' own
box, which crops the keypoint network's input as training crops a labelled hand (the readers' box of the keypoints
is one pixel wider, MMPose's convention: half a pixel of difference; a crop from the
detector's looser box shrinks the hand in it: 1.8x padding instead of 1.5x cost 0.055 PCK@0.2 on held-out
renders), and ``box``, the hand's box: the crop box widened on every side by ``margin`` times its longer side
(fingertip and wrist keypoints lie inside the hand's outline by about a finger's half-width, whatever way the hand
turns) and cut to the image, as the hand boxes that detection is scored against are (the hand's visible pixels).
Its ``score`` is the final score above, ``detector_score`` the detector's own probability, ``left_score`` still the
detector's, and ``side_settled`` marks the side as decided. The defaults were chosen on rendered scenes of a
validation seed (``benchmarks/bench_refine.py``; BENCHMARKS.md, "Keypoint refinement of detections" and "Hand
score and box of refined detections"): the keypoint peak alone ranks background shapes that look like fingers
too high, and the detector alone ranks badly boxed hands too high; the mix ranks better than either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from handpose.inference.pipeline import clip_box, crop_box_of


@dataclass(frozen=True)
class RefineConfig:
    """How the keypoint network refines the detector's hands (see the module docstring); ``passes=0`` turns it
    off."""

    passes: int = 1
    proposal_threshold: float = 0.1  # the detector's score a proposal needs
    max_proposals: int = 12  # the detector's best proposals refined
    whole_image: bool = False  # the whole image is a proposal too (no better on held-out renders: off)
    hand_threshold: float = 0.45  # the score a refined hand needs
    detector_weight: float = 0.2  # w in the hand's score k^(1 - w) * d^w (module docstring)
    box_score: float = 0.1  # keypoints scoring at least this make the crop box
    margin: float = 0.05  # hand box = crop box widened on each side by this times its longer side
    merge_iou: float = 0.5  # proposals whose hand boxes overlap more are one hand
    merge_cover: float = 1.0  # ... or share more than this of the smaller box's area (1: IoU alone; see below)
    merge_points: float = 0.5  # ... or more than this share of keypoints lie on a better hand's (1: off; below)
    prune_threshold: float = 0.3  # proposals scoring under this after a pass are not refined again (0: none)

    def __post_init__(self) -> None:
        if self.passes < 0:
            raise ValueError(f"RefineConfig.passes must be >= 0, got {self.passes}")
        if self.max_proposals < 0:
            raise ValueError(f"RefineConfig.max_proposals must be >= 0, got {self.max_proposals}")
        for name in ("proposal_threshold", "hand_threshold", "detector_weight", "box_score", "merge_iou",
                     "merge_cover", "merge_points", "prune_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"RefineConfig.{name} must lie in [0, 1], got {value}")
        if not self.margin >= 0.0:
            raise ValueError(f"RefineConfig.margin must be >= 0, got {self.margin}")

    def at_hand_threshold(self, threshold: float) -> RefineConfig:
        """This config with ``hand_threshold`` set as ``--hand-threshold`` sets it: a threshold under the pruning's
        lowers that too, so no hand the verdict would keep is dropped between passes."""
        return replace(self, hand_threshold=threshold, prune_threshold=min(self.prune_threshold, threshold))


def proposal_threshold(given: float | None, refine: RefineConfig | None) -> float | None:
    """The detector's score threshold: the one ``given``, else with refinement on its ``proposal_threshold``, else
    None (the detector's own)."""
    if given is not None:
        return float(given)
    return refine.proposal_threshold if refine is not None and refine.passes > 0 else None


def hand_box(crop_box: np.ndarray, margin: float, image_hw: tuple[int, int]) -> np.ndarray:
    """(4,) the hand's ``[x, y, w, h]`` from the keypoints' box: widened on each side by ``margin`` times its
    longer side, then cut to the image (left whole where nothing of it lies on the image)."""
    box = np.asarray(crop_box, np.float64)
    pad = margin * float(box[2:].max())
    wide = np.concatenate([box[:2] - pad, box[2:] + 2.0 * pad])
    clipped = clip_box(wide, image_hw)
    return wide if clipped is None else clipped


POINT_RADIUS = 0.1  # a keypoint lies on another hand's within this times the smaller hand's crop box's longer side


def shared_points(points: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """(N, N) share of hand i's keypoints that lie within ``POINT_RADIUS * min(sizes[i], sizes[j])`` of one of hand
    j's, from the (N, K, 2) keypoints of N hands and the (N,) longer sides of their crop boxes: a finger read as a
    hand of its own, or one hand read twice (once each side), lies on the hand's own keypoints whatever its box,
    while a small hand over a large one is measured at its own scale (with the larger hand's it merged such hands
    on rendered scenes)."""
    pts = np.asarray(points, np.float64)  # (N, K, 2)
    dist = np.linalg.norm(pts[:, None, :, None, :] - pts[None, :, None, :, :], axis=-1)  # (N, N, K, K)
    size = np.asarray(sizes, np.float64)
    near = dist.min(axis=3) <= POINT_RADIUS * np.minimum(size[:, None], size[None, :])[:, :, None]  # (N, N, K)
    return near.mean(axis=2)


def hand_score(keypoint_score: float, detector_score: float, weight: float) -> float:
    """``k^(1 - w) * d^w`` of the mean keypoint peak ``k`` and the detector's probability ``d``."""
    return float(max(keypoint_score, 0.0) ** (1.0 - weight) * max(detector_score, 0.0) ** weight)


def refine_detections(predictor: Any, image_bgr: np.ndarray, detections: Sequence[Any],
                      config: RefineConfig) -> list[Any]:
    """The detector's ``detections`` of one BGR image, re-boxed, re-scored, merged and filtered by ``predictor``'s
    keypoint network (module docstring); best first. ``config.passes == 0`` returns them unchanged."""
    from handpose.detection.codec import drop_covering, drop_greedily, suppress_overlaps
    from handpose.detection.detector import Detection
    from handpose.inference.tracking import box_from_keypoints

    if config.passes == 0:
        return list(detections)
    # any detector's hands (box, score, is_left, left_score) as handpose Detections, the best first
    proposals = [Detection(np.asarray(d.box, np.float64), float(d.score), bool(d.is_left), float(d.left_score))
                 for d in sorted(detections, key=lambda d: -float(d.score))[: config.max_proposals]]
    whole = None
    if config.whole_image:
        h, w = image_bgr.shape[:2]
        whole = Detection(np.array([0.0, 0.0, w, h]), 0.0, False, 0.5)
        proposals.append(whole)
    # each live proposal: (its detection as first given, the detection the next pass crops from)
    live = [(det, det) for det in proposals]
    scores = np.zeros(0)
    for index in range(config.passes):
        if index > 0 and config.prune_threshold > 0.0:  # far below a hand after the last pass: not cropped again
            kept = [i for i, score in enumerate(scores) if score >= config.prune_threshold]
            live, scores = [live[i] for i in kept], scores[kept]
        # a crop box off the image gets no keypoints (predict_detections leaves it out): drop it first
        live = [(first, cur) for first, cur in live if clip_box(crop_box_of(cur), image_bgr.shape[:2]) is not None]
        if not live:
            return []
        preds = predictor.predict_detections(image_bgr, [cur for _, cur in live])
        nxt, hand_boxes, scores_list, points = [], [], [], []
        for (first, cur), pred in zip(live, preds):
            points.append(np.asarray(pred.keypoints, np.float64)[:, :2])
            crop = box_from_keypoints(pred.keypoints, pred.scores, config.box_score)
            crop = crop_box_of(cur) if crop is None else crop
            # the whole-image proposal has no detector probability: its keypoints alone score it
            weight = 0.0 if first is whole else config.detector_weight
            score = hand_score(float(np.mean(pred.scores)), float(first.score), weight)
            nxt.append((first, replace(cur, crop_box=crop, score=score, is_left=bool(pred.is_left),
                                       side_settled=True)))  # later passes crop that side without asking again
            hand_boxes.append(hand_box(crop, config.margin, image_bgr.shape[:2]))
            scores_list.append(score)
        boxes, ranks = np.array(hand_boxes).reshape(-1, 4), np.array(scores_list)
        keep = suppress_overlaps(boxes, ranks, config.merge_iou)
        if config.merge_cover < 1.0:
            keep = keep[drop_covering(boxes[keep], ranks[keep], config.merge_cover)]
        if config.merge_points < 1.0 and len(keep) > 1:
            sizes = np.array([float(np.asarray(nxt[i][1].crop_box)[2:].max()) for i in keep])
            shared = shared_points(np.stack([points[i] for i in keep]), sizes)
            keep = keep[drop_greedily(shared, ranks[keep], config.merge_points)]
        live = [nxt[i] for i in keep]
        scores = np.array(scores_list)[keep]
    out = []
    for (first, cur), score in zip(live, scores):
        if score < config.hand_threshold:
            continue
        out.append(replace(cur, box=hand_box(cur.crop_box, config.margin, image_bgr.shape[:2]),
                           detector_score=float(first.score)))
    return out
