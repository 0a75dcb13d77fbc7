"""The tracker (:class:`HandTracker`): detect rarely, follow each hand by its own keypoints, frame by frame.

Per frame (:meth:`HandTracker.update`): the detector runs on the first frame, every ``detect_every`` frames,
whenever no hand is tracked, and (with refinement) on the frame after a followed hand's hand score fell under the hand
threshold, so that a hand that left the picture is not drawn on the wall for up to ``detect_every`` frames
(``Predictor.detect_hands``: refined by the keypoint network when the predictor refines, a new track then starting
from the keypoints' box). Detections are matched to tracks (``matching``): a matched track takes the fresh box, and
the detector's side where it can tell; an unmatched detection brings a lost hand back (``lost``) or starts a track.
Between detections each track's box is the box of its keypoints in the previous frame (those scoring >= ``box_score``).

All tracks' crops go through the keypoint network in one batch (``keypoint_run``); a track whose mean keypoint score
falls below ``min_keypoint_score`` is lost, as is, on a frame where the detector ran and did not find it, a track whose
hand score is under the hand threshold of image prediction (``RefineConfig.hand_threshold``; with refinement on, as
images have that threshold only then): a hand followed onto a blank wall or a black frame keeps a mean keypoint score
above the noise of an empty crop, so the detector's silence ends it there, while a hand the detector merely missed once
keeps its track. When every track is lost on a frame without detection the detector runs again on that same frame.
Where the detector cannot tell a hand's side, the keypoint network calls it at each detection: a refined detection
comes with that call, an unrefined one gets it from that frame's keypoint run; a track's side is the majority of its
recent calls (``track``). Tracks are ranked by the hand score of image prediction (``inference.refine.hand_score``: the
mean keypoint score of this frame and the detector's probability at the last detection), and two that come to cover
one hand are merged (``merging``). The keypoints returned are smoothed per track (One-Euro, ``inference.smoothing``);
the next box is taken from the raw keypoints, so smoothing never adds lag to tracking.

With refinement (the default) a hand's ``score`` is that hand score, frame by frame, except on a frame where the
detector found it: there it is the refined detection's score, as image prediction reports that hand (scored again on
the crop of the keypoints' box, hands that images keep came out under their threshold); without refinement, the
detector's score at the last detection (ranking still mixes in the keypoints, at ``RefineConfig``'s default weight).
A track's id is given when it is first reported: a detection whose track is dropped on the frame it started (a finger
boxed as a hand, merged into its hand) takes none, so ids count the hands shown (0, 1, 2, ...). With
``confirm_frames`` above 1 a new track is first reported once followed that many frames in a row (``tentative``).

A hand lost after it was shown is kept, not reported, for ``lost_frames`` frames (:attr:`HandTracker.lost`, ``lost``);
one brought back but not shown on that frame (read twice, merged) is lost again as it was before it.
While a hand followed for at least ``lost_frames`` frames in a row is lost, the detector runs on every frame (with
``detect_every`` > 0), so it is found on the frame it is back; a hand shown only briefly (a false hand found at one
detection) waits for the detector's turns, or it would keep the detector running on every frame. Those extra runs
bring lost hands back and start no track, nor move the detector's turns: another hand they find waits for the next
turn, as with no hand lost.

Without a detector, the tracker follows a box given at the start (re-starting from it when lost), or, without one,
predicts the whole frame each time.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from handpose.inference.pipeline import clip_box, crop_box_of
from handpose.inference.refine import RefineConfig, hand_score
from handpose.inference.smoothing import OneEuroFilter
from handpose.inference.tracking.boxes import box_from_keypoints, box_iou, union_box
from handpose.inference.tracking.config import TrackingConfig
from handpose.inference.tracking.keypoint_run import track_keypoints
from handpose.inference.tracking.lost import keep_lost, rejoin_pairs
from handpose.inference.tracking.matching import assign_detections
from handpose.inference.tracking.merging import DUPLICATE_IOU, drop_read_twice, merge_duplicates
from handpose.inference.tracking.tentative import on_trial
from handpose.inference.tracking.track import HISTORY, Track, track_rank

if TYPE_CHECKING:
    from handpose.inference.predictor import Prediction, Predictor
    from handpose.inference.results import Hands

LOG = logging.getLogger(__name__)


class HandTracker:
    """Follows hands through the frames of one video; see the module docstring."""

    def __init__(self, predictor: Predictor, config: TrackingConfig | None = None,
                 start_box: np.ndarray | None = None, start_is_left: bool | None = None) -> None:
        self.predictor = predictor
        self.config = config or TrackingConfig()
        self.start_box = None if start_box is None else np.asarray(start_box, np.float64)
        self.start_is_left = start_is_left  # None: the keypoint network settles it at the first frame
        self.tracks: list[Track] = []
        self.lost: list[Track] = []  # hands shown, then lost, within lost_frames: not reported, their ids kept
        self.frame_index = -1
        self.detector_runs = 0
        self._next_id = 0  # the id of the next hand shown
        self._candidates = 0  # tracks started (a candidate's id is minus its number until it is shown)
        self._since_detect = 0
        self._frame_shape: tuple[int, ...] | None = None  # (H, W): a frame of another size starts the tracks over
        # the lost hands brought back on this frame, by id, as they were before it (one not shown is lost again so)
        self._back: dict[int, Track] = {}

    def _new_track(self, box: np.ndarray, is_left: bool, score: float | None, left_score: float | None) -> Track:
        """A candidate track: its id is negative (-1, -2, ... in the order started) until it is first reported
        (:meth:`_name_new`)."""
        self._candidates += 1
        return Track(-self._candidates, np.asarray(box, np.float64), bool(is_left), score, left_score,
                     OneEuroFilter(self.config.smoothing))

    def _name_new(self, shown: list[Track]) -> None:
        """Give the candidates among the tracks ``shown`` this frame the next hand ids, in the order they started: a
        candidate dropped before it was ever shown (a finger the detector boxed, merged into its hand) takes none."""
        for track in sorted((t for t in shown if t.id < 0), key=lambda t: -t.id):
            track.id = self._next_id
            self._next_id += 1

    def _detect(self, frame: np.ndarray, hunting: bool = False) -> set[int]:
        """Run the detector and merge its hands into the tracks (``matching``); a detection that matches no track
        brings a lost hand back (``lost.rejoin_pairs``) or starts a track, except when ``hunting`` (the detector
        runs off its schedule only to find a lost hand: it starts no track, nor counts as the schedule's turn).
        Returns the ids of the tracks it found."""
        assert self.predictor.detector is not None
        detections = self.predictor.detect_hands(frame)
        self.detector_runs += 1
        if not hunting:
            self._since_detect = 0
        # refined: the keypoints' box, what a track follows
        boxes = [clip_box(crop_box_of(det), frame.shape[:2]) for det in detections]
        matched = assign_detections(boxes, [t.box for t in self.tracks], frame.shape[:2], self.config)
        found: set[int] = set()
        unmatched: list[tuple[Any, np.ndarray, bool, bool]] = []  # (detection, box, sure, voted)
        for det, box, index in zip(detections, boxes, matched):
            if box is None:
                continue
            sure = not self.predictor.side_from_keypoints(det)  # the detector's own call, not the keypoint network's
            voted = not sure and bool(getattr(det, "side_settled", False))  # refined: the network's call on this frame
            if index is None:
                unmatched.append((det, box, sure, voted))
                continue
            track = self.tracks[index]
            held = clip_box(track.box, frame.shape[:2])  # on the frame: matching passes over a track off it
            if held is not None and box_iou(box, held) < self.config.match_iou:  # matched at the edge
                box = union_box(box, held)  # the crop keeps the whole hand, not the part of it boxed
            track.box, track.side_known = box, sure or voted
            track.score, track.left_score = float(det.score), float(det.left_score)
            found.add(self._take(track, det, sure, voted))
        back = rejoin_pairs([(box, bool(det.is_left) if sure else None) for det, box, sure, _ in unmatched],
                            self.lost, self.config)
        for i, (det, box, sure, voted) in enumerate(unmatched):
            if len(self.tracks) >= self.config.max_hands:
                break
            if i in back:  # a lost hand back: its id and side calls, a fresh box and filter (no smoothing over the gap)
                track = back[i]
                self.lost = [t for t in self.lost if t is not track]
                self._back[track.id] = replace(track, past=list(track.past))
                track.box, track.filter, track.past, track.before = box, OneEuroFilter(self.config.smoothing), [], None
                track.score, track.left_score = float(det.score), float(det.left_score)
            elif hunting:  # another hand: the schedule's detection starts it, as it would with no hand lost
                continue
            else:
                track = self._new_track(box, det.is_left, float(det.score), float(det.left_score))
            track.side_known = sure or voted
            self.tracks.append(track)
            found.add(self._take(track, det, sure, voted))
        return found

    @staticmethod
    def _take(track: Track, det: Any, sure: bool, voted: bool) -> int:
        """A detection's side call and probability into the track it matched; returns the track's id."""
        if sure:
            track.told(bool(det.is_left))
        elif voted:
            track.vote(bool(det.is_left))
        own = getattr(det, "detector_score", None)  # refined: the detector's probability beside the hand score
        track.detector_score = float(det.score if own is None else own)
        return track.id

    def _start_without_detector(self, frame: np.ndarray) -> None:
        """No detector: one track from the start box, or from the whole frame."""
        h, w = frame.shape[:2]
        box = self.start_box if self.start_box is not None else np.array([0.0, 0.0, w, h])
        if self.frame_index == 0 and clip_box(box, frame.shape[:2]) is None:
            raise ValueError(f"the start box {[round(float(v), 1) for v in box]} (x, y, w, h) lies outside the "
                             f"{w} x {h} frame")
        self.tracks = [self._new_track(box, bool(self.start_is_left), None, None)]
        self.tracks[0].side_known = self.start_is_left is not None or not self.predictor.spec.mirror_left

    def _run(self, frame: np.ndarray, t: float, fresh: frozenset[int] | set[int] = frozenset(),
             detected: bool = False) -> list[Prediction]:
        """Keypoints of every track in one batch; lost tracks dropped, boxes moved to the keypoints. A hand the
        detector found on this frame (its track id in ``fresh``) is reported even when its keypoints score too
        low to follow it (the detector's word that a hand is there), but not tracked further. With ``detected``
        (the detector ran on this frame) a track it did not find must reach the hand threshold to go on."""
        before = list(self.tracks)
        kept, preds = track_keypoints(self.predictor, self.tracks, frame)
        alive: list[tuple[Track, Prediction]] = []
        reported: list[tuple[Track, Prediction]] = []  # shown this frame, not followed
        refine = self.predictor.refine or RefineConfig()
        weight = refine.detector_weight
        for track, pred in zip(kept, preds):
            track.quality = float(np.mean(pred.scores))
            if track.detector_score is not None and self.predictor.refine is not None and track.id not in fresh:
                # as a refined image hand; a hand found on this frame keeps the refinement's score (module docstring)
                track.score = hand_score(track.quality, track.detector_score, weight)
            nxt = box_from_keypoints(pred.keypoints, pred.scores, self.config.box_score)
            unconfirmed = (detected and track.id not in fresh and self.predictor.refine is not None
                           and track.detector_score is not None and track_rank(track, weight) < refine.hand_threshold)
            if track.quality < self.config.min_keypoint_score or nxt is None or unconfirmed:
                if track.id in fresh:
                    track.box = np.asarray(pred.box, np.float64)
                    reported.append((track, pred))
                continue
            track.box = nxt
            alive.append((track, pred))
        # a hand started on this frame whose keypoints lie on a followed hand's is that hand read twice, and two
        # tracks on one hand, or one inside the other's box: one goes (``merging``)
        boxes = np.array([p.box for _, p in alive], np.float64).reshape(-1, 4)  # (N, 4) this frame's crop boxes
        ranks = np.array([track_rank(t, weight) for t, _ in alive])  # (N,)
        share = refine.merge_points if self.config.merge_points is None else self.config.merge_points
        keep = drop_read_twice([t for t, _ in alive], [p.keypoints for _, p in alive], ranks, fresh, share,
                               set(self._back))  # (M,)
        alive, boxes, ranks = [alive[int(i)] for i in keep], boxes[keep], ranks[keep]
        merged = [alive[int(i)] for i in merge_duplicates([t for t, _ in alive], boxes, ranks, self.config)]
        self.tracks = [t for t, _ in merged]
        for track, pred in reported:  # a lost hand the detector vouches for: shown, not tracked
            if all(box_iou(pred.box, other.box) < DUPLICATE_IOU for _, other in merged):
                merged.append((track, pred))
        # a new hand is shown once followed on confirm_frames frames in a row (``tentative``)
        threshold = refine.hand_threshold if self.predictor.refine is not None else None
        following = {id(t) for t in self.tracks}
        verdicts = {id(t): on_trial(t, id(t) in following, track_rank(t, weight), threshold,
                                    self.config.confirm_frames) for t, _ in merged}
        merged = [(t, p) for t, p in merged if verdicts[id(t)] != "drop"]
        self.tracks = [t for t in self.tracks if verdicts[id(t)] != "drop"]
        self._name_new([track for track, _ in merged if verdicts[id(track)] == "show"])
        following = {id(t) for t in self.tracks}
        shown = {id(t) for t, _ in merged if verdicts[id(t)] == "show"}
        ended = [t for t in before if id(t) not in following]  # gone, hidden, merged into another or shown once
        # a lost hand brought back on this frame but not shown (read twice, merged): lost again as it was before
        # (its boxes, frame of last sight and side calls), not on the hand it was read on (``lost``)
        again = {id(t) for t in ended if t.id in self._back and id(t) not in shown}
        self.lost += [self._back[t.id] for t in ended if id(t) in again]
        self.lost += keep_lost([t for t in ended if id(t) not in again], self.config)
        for track, pred in merged:
            track.past = [*track.past, np.asarray(pred.box, np.float64)][-HISTORY:]  # this frame's box, for the next
            if verdicts[id(track)] == "hold":
                continue
            if track.last_seen != self.frame_index:
                track.streak = track.streak + 1 if track.last_seen == self.frame_index - 1 else 1
            track.last_seen = self.frame_index
            pred.keypoints = track.filter(pred.keypoints, t).astype(np.float32)
            pred.score, pred.is_left, pred.left_score = track.score, track.is_left, track.left_score
            if self.predictor.refine is not None and track.detector_score is not None:
                pred.detector_score = track.detector_score  # as image prediction reports a refined hand
            pred.track_id = track.id
        return [p for t, p in sorted(merged, key=lambda tp: tp[0].id) if verdicts[id(t)] == "show"]

    def _doubtful(self) -> bool:
        """Whether a followed hand scored under the hand threshold of images on the last frame (with refinement,
        as images have that threshold only then): the detector is then asked now, not at its next turn."""
        refine = self.predictor.refine
        if refine is None:
            return False
        return any(track.detector_score is not None
                   and track_rank(track, refine.detector_weight) < refine.hand_threshold for track in self.tracks)

    def update(self, frame_bgr: Any, t: float, color: str = "bgr") -> Hands:
        """The hands of the next frame at time ``t`` seconds (finite, going forward): a BGR uint8 (H, W, 3) array as
        OpenCV reads video, or any image :meth:`Predictor.predict` takes (``color="rgb"`` for an RGB array); a float
        array is refused. The result holds the frame for ``.plot()``; set its ``image`` to None before keeping many
        results (``run_video`` does), or every frame stays in memory."""
        from handpose.inference.inputs import to_bgr
        from handpose.inference.results import Hands

        frame_bgr = to_bgr(frame_bgr, color)
        if not np.isfinite(t):
            raise ValueError(f"HandTracker.update: the frame time must be a finite number of seconds, got {t}")
        if self._frame_shape is not None and frame_bgr.shape[:2] != self._frame_shape:
            LOG.info("frame size %s after %s: the tracks start over", frame_bgr.shape[:2], self._frame_shape)
            self.tracks, self.lost = [], []  # their boxes were of the other frame size
        self._frame_shape = frame_bgr.shape[:2]
        self.frame_index += 1
        self._since_detect += 1
        self._back = {}
        cfg = self.config
        self.lost = [t for t in self.lost if self.frame_index - t.last_seen - 1 <= cfg.lost_frames]  # frames unseen
        has_detector = self.predictor.detector is not None
        detected = False
        fresh: set[int] = set()
        hunted = any(t.streak >= cfg.lost_frames for t in self.lost)  # a hand followed steadily, then lost
        due = not self.tracks or (cfg.detect_every > 0 and self._since_detect >= cfg.detect_every) or self._doubtful()
        if has_detector and (due or (cfg.detect_every > 0 and hunted)):
            fresh = self._detect(frame_bgr, hunting=not due)
            detected = True
        elif not has_detector and not self.tracks:
            self._start_without_detector(frame_bgr)
        preds = self._run(frame_bgr, t, fresh, detected)
        if not self.tracks and has_detector and not detected:  # every track lost: look again now
            preds = self._run(frame_bgr, t, self._detect(frame_bgr), True)
        if not has_detector and self.start_box is None:
            h, w = frame_bgr.shape[:2]
            for track in self.tracks:  # whole frame each time: nothing to follow, but the filter goes on
                track.box = np.array([0.0, 0.0, w, h])
        return Hands(preds, frame_bgr)
