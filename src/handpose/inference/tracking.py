"""Hand tracking over video frames (MediaPipe-style): detect rarely, follow each hand by its own keypoints.

Per frame (:meth:`HandTracker.update`): the detector runs on the first frame, every ``detect_every`` frames,
whenever no hand is tracked, and (with refinement) on the frame after a followed hand's hand score (below) fell
under the hand threshold, so that a hand that left the picture is not drawn on the wall for up to ``detect_every``
frames (``Predictor.detect_hands``: refined by the keypoint network when the predictor refines, a new track then
starting from the keypoints' box); detections are matched to tracks by box overlap (a matched track takes the fresh
box, and the detector's side where it can tell; an unmatched detection starts a track), or then, for the detections
left, where both boxes reach one edge of the frame, by the smaller box lying mostly inside the other
(:meth:`HandTracker._assign`: a hand leaving the picture took a new id almost every frame, 8 ids for one hand on a
rendered clip; overlap first, so a second hand coming in at the edge does not take a followed hand's track).
Between detections each track's box is the box of its keypoints in the previous frame (those scoring >= ``box_score``).
All tracks' crops go through the keypoint network in one batch; a track whose mean keypoint score falls below
``min_keypoint_score`` is lost, as is, on a frame where the detector ran and did not find it, a track whose hand score
(below) is under the hand threshold of image prediction (``RefineConfig.hand_threshold``; with refinement on, as images
have that threshold only then): a hand followed onto a blank wall or a black frame keeps a mean keypoint score above the
noise of an empty crop, so the detector's silence ends it there, while a hand the detector merely missed once keeps its
track. When every track is lost on a frame without detection the detector runs again on that same frame. Where the
detector cannot tell a hand's side (``Predictor.side_from_keypoints``; the shipped one's side is a coin toss), the
keypoint network calls it at each detection: a refined detection comes with that call, made by running its crop both
ways, and an unrefined one gets it from that frame's keypoint run (both mirrors of its crop, the more confident kept:
one extra crop once per detection, not another pass). A track's side is the majority of its recent calls
(:meth:`Track.vote`; a detection whose side the detector tells sets it and counts as one call, :meth:`Track.told`), so
one doubtful call (a hand turned edge-on) does not turn a side that the calls before agreed on, where each detection
deciding afresh turned it back and forth (34 rendered clips of a hand rolling in the picture or two crossing, the
shipped models: at ``detect_every`` 1 the side of a followed hand changed 22 times in 1,356 hands instead of 139, right
for 89.3% of them instead of 87.6%; at 10, 4 times instead of 12, right for 86.9% instead of 88.5%: with a detection
every 10 frames a first wrong call takes longer to undo). Tracks are ranked by the hand score of image prediction
(``inference.refine.hand_score``: the mean keypoint score of this frame and the detector's probability at the last
detection). Two tracks that come to cover the same hand are merged, as are two whose smaller box lies mostly inside
the other (``nested_cover``: a finger followed as a hand of its own, or the hand boxed with its forearm), whichever of
the two is the smaller: the better ranked is kept, unless it jumped there and the other came steadily (its box
``HISTORY`` frames before overlapping its box now by ``match_iou``; :meth:`HandTracker._merge`): a hand passing behind
the other, its track followed its keypoints onto the front hand between detections and, ranked higher (the detector's
probability at the last detection), took the front hand's track and id, a swap; now it is the one lost. The
keypoints returned are smoothed per track (One-Euro, ``inference.smoothing``); the next box is taken from the raw
keypoints, so smoothing never adds lag to tracking. With refinement (the default) a hand's ``score`` is that hand score,
frame by frame, except on a frame where the detector found it: there it is the refined detection's score, as image
prediction reports that hand (scored again on the crop of the keypoints' box, hands that images keep at the 0.45
threshold came out at 0.37-0.44 on rendered clips at ``detect_every`` 1); without refinement, the detector's score at
the last detection (ranking still mixes in the keypoints, at ``RefineConfig``'s default weight). A track's id is given
when it is first reported: a detection whose track is dropped on the frame it started (a finger boxed as a hand, merged
into its hand) takes none, so ids count the hands shown (0, 1, 2, ...; they jumped 0 -> 20 -> 23 on rendered clips).

A hand lost after it was shown (hidden behind the other hand or an object, gone from the picture, or under the
thresholds above for a frame or two) is kept as lost, not reported, for ``lost_frames`` frames (:attr:`HandTracker
.lost`): a detection that matches no followed hand, lies where a lost hand was last seen (overlapping its box by
``match_iou``, or its centre within ``rejoin_distance`` of the longer side of the larger box; neither box more than
twice the other's size), or where it was before its box jumped (:attr:`Track.before`: its box ``HISTORY`` frames
before it was lost, where that does not overlap its last box by ``match_iou``; a hand passing behind another, its
track followed the front hand's keypoints and was dropped there, :meth:`HandTracker._merge`, so its last box lies on
the front hand), and is not of the other side where both the detector and the lost track are sure of theirs
(:attr:`Track.side_sure`), brings that hand back (:meth:`HandTracker._rejoin`): its id and side calls, a fresh box
and filter (keypoints are not smoothed across the gap). A lost hand counts towards no limit and blocks no id; each
comes back once. While a hand followed for at least ``lost_frames`` frames in a row is lost, the detector runs on every
frame (with ``detect_every`` > 0), so it is found on the frame it is back; a hand shown only briefly (a false hand found
at one detection) waits for the detector's turns, or it would keep the detector running on every frame. Those extra runs
bring lost hands back and start no track, nor move the detector's turns: another hand they find waits for the next turn,
as with no hand lost (on the clips below they had added 14 hand-frames of false hands, each followed until that turn).
On 18 rendered clips (``benchmarks/bench_track_ids.py``; a hand hidden 2-12 frames, two hands crossing; the shipped
models): a hand hidden 2-6 frames kept its id in 12 of 12 clips instead of 0 (``detect_every`` 1) or 1 (at 10), 35 ids
for 28 hands instead of 48 (at 10: 32 instead of 44), no swaps; at 10 the detector ran 234 times instead of 188 and
found the hands in 1,165 hand-frames of 1,207 instead of 1,134, with 13 more hand-frames of false hands (308 hands
reported beside those found instead of 295). The box from before a jump changed one id there (one no labelled hand
owned, at ``detect_every`` 1: 119 ids -> 118, nothing else): the hand passing behind the other in the crossing
clips is hidden 16-17 frames, longer than ``lost_frames``, and takes a new id when it shows again wherever it was last
seen.

Without a detector, the tracker follows a box given at the start (re-starting from it when lost), or, without one,
predicts the whole frame each time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from handpose.detection.metrics import box_iou as box_iou_matrix
from handpose.detection.metrics import smaller_cover
from handpose.inference.pipeline import clip_box, crop_box_of
from handpose.inference.refine import RefineConfig, hand_score
from handpose.inference.smoothing import OneEuroFilter, SmoothingConfig

if TYPE_CHECKING:
    from handpose.inference.predictor import Prediction, Predictor
    from handpose.inference.results import Hands

LOG = logging.getLogger(__name__)
SIDE_MEMORY = 3  # a track's side tally stays within +-3 calls (Track.vote)
REJOIN_SCALE = 2.0  # a lost hand is not brought back by a box more than twice as large or small (a finger boxed)
DUPLICATE_IOU = 0.5  # two tracks whose boxes overlap more than this follow one hand (merged, as the detector's NMS)
HISTORY = 3  # a track keeps its boxes this many frames back: of two merged tracks, had one jumped there (steady)


@dataclass(frozen=True)
class TrackingConfig:
    """When to detect, when a track is lost, how keypoints are smoothed."""

    # run the detector at least every N frames (1: every frame; 0: no schedule, only when tracking is lost or, with
    # refinement, after a frame where a followed hand scored under the hand threshold, as at any N)
    detect_every: int = 10
    min_keypoint_score: float = 0.2  # a track whose mean keypoint score is lower is lost
    box_score: float = 0.1  # keypoints scoring at least this make the next frame's box
    match_iou: float = 0.3  # a detection and a track overlapping at least this much are the same hand
    match_cover: float = 0.6  # or, both at one edge of the frame, whose smaller box lies this much inside the other
    edge_margin: float = 0.02  # a box within this share of the frame's longer side from an edge is at that edge
    nested_cover: float = 0.7  # of two tracks whose smaller box lies more than this inside the other, the worse goes
    max_hands: int = 4
    lost_frames: int = 8  # a hand unseen for up to this many frames (a third of a second at 25/s) keeps its id (0: off)
    rejoin_distance: float = 0.75  # a new hand this near a lost one (centres, in the larger box's longer side) is it
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)

    def __post_init__(self) -> None:
        if self.detect_every < 0 or self.max_hands < 1 or self.lost_frames < 0 or not self.rejoin_distance >= 0:
            raise ValueError(f"tracking needs detect_every >= 0, max_hands >= 1, lost_frames >= 0 and "
                             f"rejoin_distance >= 0, got {self}")


@dataclass
class Track:
    """One followed hand: its id, the box for the next frame, its side and last detection scores, its filter."""

    id: int
    box: np.ndarray  # (4,) [x, y, w, h] px
    is_left: bool
    score: float | None
    left_score: float | None
    filter: OneEuroFilter
    quality: float = 0.0  # mean keypoint score in the last frame
    side_known: bool = True  # False: the detector was unsure; the next keypoint run settles it (both mirrors)
    detector_score: float | None = None  # the detector's own probability at the last detection (None: no detector)
    side_tally: int = 0  # the keypoint network's calls of this hand's side, +1 a left, -1 a right, within +-SIDE_MEMORY
    side_told: bool = False  # the side is the detector's own call at the last detection (not the network's)
    last_seen: int = -1  # the frame it was last reported on (a lost track keeps its id for lost_frames after it)
    streak: int = 0  # the frames in a row it was reported on, up to last_seen
    past: list[np.ndarray] = field(default_factory=list)  # (4,) its boxes on up to HISTORY frames before, oldest first
    before: np.ndarray | None = None  # (4,) lost after its box jumped: its box from before the jump (HandTracker._lose)

    def vote(self, is_left: bool) -> None:
        """Count one keypoint-network call of this hand's side: the tally moves one step towards it, kept within
        ``SIDE_MEMORY`` either way, and the side is the tally's sign (0 keeps it): the majority of the recent calls,
        so one doubtful call does not turn it and a run of calls against it does, after ``SIDE_MEMORY + 1``."""
        self.side_tally = max(-SIDE_MEMORY, min(SIDE_MEMORY, self.side_tally + (1 if is_left else -1)))
        self.side_told = False
        if self.side_tally:
            self.is_left = self.side_tally > 0

    def told(self, is_left: bool) -> None:
        """The detector's own call of the side (it can tell): the side, and the tally one call of it, so the
        network's calls from before it do not outvote it (a tally left at -3 by right calls turned the next left
        call into a right label)."""
        self.is_left = is_left
        self.side_tally = 1 if is_left else -1
        self.side_told = True

    @property
    def side_sure(self) -> bool:
        """Whether its side is known with some confidence: the detector's own call, or two more of the network's
        recent calls one way than the other."""
        return self.side_told or abs(self.side_tally) >= 2


def track_rank(track: Track, weight: float) -> float:
    """How good a followed hand is this frame: its hand score ``k^(1 - w) * d^w`` (``inference.refine``) from its
    mean keypoint score and the detector's probability at its last detection, or its keypoints alone without one."""
    if track.detector_score is None:
        return track.quality
    return hand_score(track.quality, track.detector_score, weight)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``[x, y, w, h]`` boxes (the detector's metric, ``detection.metrics``)."""
    return float(box_iou_matrix(a, b)[0, 0])


def _cover(a: np.ndarray, b: np.ndarray) -> float:
    """The share of the smaller of two ``[x, y, w, h]`` boxes inside the other (``detection.metrics.smaller_cover``)."""
    return float(smaller_cover(a, b)[0, 0])


def union_box(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(4,) the smallest ``[x, y, w, h]`` box holding both boxes."""
    lo = np.minimum(a[:2], b[:2])
    hi = np.maximum(a[:2] + a[2:], b[:2] + b[2:])
    return np.concatenate([lo, hi - lo])


def steady(track: Track, box: np.ndarray, iou: float) -> bool:
    """Whether the ``track``, in ``box`` now, came there steadily: its box ``HISTORY`` frames ago (or at its start,
    when younger) overlaps ``box`` by ``iou``, as a detection must overlap a track to continue it (False for a track
    started on this frame: no past to vouch for it). A track that followed its keypoints from a hidden hand onto the
    hand in front of it has moved a hand's width or so in those frames."""
    return bool(track.past) and box_iou(track.past[0], box) >= iou


def edges_touched(box: np.ndarray, shape: tuple[int, ...], margin: float) -> set[str]:
    """Which edges of a frame of size ``shape`` (H, W) an ``[x, y, w, h]`` box reaches, within ``margin`` px."""
    h, w = shape[:2]
    near = {"left": box[0] <= margin, "top": box[1] <= margin, "right": box[0] + box[2] >= w - margin,
            "bottom": box[1] + box[3] >= h - margin}
    return {edge for edge, ok in near.items() if ok}


def box_from_keypoints(keypoints: np.ndarray, scores: np.ndarray, min_score: float) -> np.ndarray | None:
    """(4,) the tight ``[x, y, w, h]`` box of the keypoints (21, 2) scoring >= ``min_score``; None with fewer
    than three such keypoints or no area."""
    ok = (np.asarray(scores) >= min_score) & np.isfinite(keypoints).all(axis=1)  # (21,)
    if ok.sum() < 3:
        return None
    pts = keypoints[ok]  # (K, 2)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    size = hi - lo
    if size.max() < 2.0:
        return None
    side = np.maximum(size, 0.25 * size.max())  # a flat line of keypoints (a finger seen edge-on) keeps some depth
    centre = (lo + hi) / 2
    return np.array([centre[0] - side[0] / 2, centre[1] - side[1] / 2, side[0], side[1]])


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
        """Run the detector and merge its hands into the tracks (greedy matching by box overlap); a detection that
        matches no track brings a lost hand back (:meth:`_rejoin`) or starts a track, except when ``hunting`` (the
        detector runs off its schedule only to find a lost hand: it starts no track, nor counts as the schedule's
        turn). Returns the ids of the tracks it found."""
        assert self.predictor.detector is not None
        detections = self.predictor.detect_hands(frame)
        self.detector_runs += 1
        if not hunting:
            self._since_detect = 0
        # refined: the keypoints' box, what a track follows
        boxes = [clip_box(crop_box_of(det), frame.shape[:2]) for det in detections]
        matched = self._assign(boxes, frame.shape[:2])
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
            held = clip_box(track.box, frame.shape[:2])  # on the frame: _match passes over a track off it
            if held is not None and box_iou(box, held) < self.config.match_iou:  # matched at the edge (_match)
                box = union_box(box, held)  # the crop keeps the whole hand, not the part of it boxed
            track.box, track.side_known = box, sure or voted
            track.score, track.left_score = float(det.score), float(det.left_score)
            found.add(self._take(track, det, sure, voted))
        back = self._rejoin([(box, bool(det.is_left) if sure else None) for det, box, sure, _ in unmatched])
        for i, (det, box, sure, voted) in enumerate(unmatched):
            if len(self.tracks) >= self.config.max_hands:
                break
            if i in back:  # a lost hand back: its id and side calls, a fresh box and filter (no smoothing over the gap)
                track = back[i]
                self.lost = [t for t in self.lost if t is not track]
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

    def _assign(self, boxes: list[np.ndarray | None], shape: tuple[int, ...]) -> list[int | None]:
        """For each detected box (None: off the frame of size ``shape``), the index of the track it continues, or
        None: each detection in turn takes the free track it overlaps by ``match_iou`` (:meth:`_match`), and only then
        do the detections left take a free track at the frame's edge; otherwise a second hand coming in at the edge
        inside a followed hand's box, scored higher, took that hand's track from the hand's own detection."""
        free = list(range(len(self.tracks)))
        matched: list[int | None] = [None] * len(boxes)
        for at_edge in (False, True):
            for j, box in enumerate(boxes):
                if box is None or matched[j] is not None:
                    continue
                best = self._match(box, [self.tracks[i].box for i in free], shape, at_edge)
                if best >= 0:
                    matched[j] = free.pop(best)
        return matched

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

    def _rejoin(self, boxes: list[tuple[np.ndarray, bool | None]]) -> dict[int, Track]:
        """Which lost tracks the detected boxes that match no followed hand bring back: {index in ``boxes``: track}.
        A box and a lost track pair where the track's last box, or its box from before a jump (:attr:`Track.before`),
        overlaps it by ``match_iou``, or their centres lie within ``rejoin_distance`` of the larger box's longer side,
        and neither box's longer side is more than ``REJOIN_SCALE`` times the other's; a track whose side is sure
        (:attr:`Track.side_sure`) does not pair with a box whose side the detector tells (True: left; None: it cannot
        tell) the other way. Pairs are taken best first, each box and each track once; best: the distance of the
        centres over the larger box's longer side plus the log of the ratio of the longer sides (0: the same place
        and size; of a track's two boxes the nearer), so of a hand and a finger of it boxed beside it the hand takes
        the id (the most overlap gave it to a part of the hand when the lost box was the flat box of keypoints read on
        the occluder, the frame before the hand was lost)."""
        cfg = self.config
        pairs = []
        for i, (box, is_left) in enumerate(boxes):
            for j, track in enumerate(self.lost):
                if is_left is not None and track.side_sure and track.is_left != is_left:
                    continue
                costs = []
                for seen in [track.box] if track.before is None else [track.box, track.before]:
                    iou = box_iou(box, seen)
                    gap = float(np.linalg.norm((box[:2] + box[2:] / 2) - (seen[:2] + seen[2:] / 2)))  # px
                    sizes = sorted([float(box[2:].max()), float(seen[2:].max())])  # px, the smaller first
                    if sizes[1] > REJOIN_SCALE * sizes[0] or (iou < cfg.match_iou
                                                              and gap > cfg.rejoin_distance * sizes[1]):
                        continue
                    costs.append(gap / sizes[1] + float(np.log(sizes[1] / sizes[0])))  # 0: same place and size
                if costs:
                    pairs.append((min(costs), i, j))
        back: dict[int, Track] = {}
        taken: set[int] = set()
        for _, i, j in sorted(pairs):
            if i not in back and j not in taken:
                back[i] = self.lost[j]
                taken.add(j)
        return back

    def _lose(self, tracks: list[Track]) -> None:
        """Keep the ``tracks`` that ended this frame and had been shown (an id) as lost, for ``lost_frames``; one
        whose box jumped (:func:`steady` fails: a hand passing behind another, its track followed the front hand's
        keypoints and was dropped there, :meth:`_merge`) also keeps its box from before the jump (:attr:`Track.before`,
        its oldest in ``past``), where the hand was last seen for sure, for :meth:`_rejoin`."""
        if self.config.lost_frames <= 0:
            return
        for track in tracks:
            if track.id >= 0:
                jumped = bool(track.past) and not steady(track, track.box, self.config.match_iou)
                track.before = track.past[0] if jumped else None
                self.lost.append(track)

    def _match(self, box: np.ndarray, boxes: list[np.ndarray], shape: tuple[int, ...], at_edge: bool = False) -> int:
        """The index in ``boxes`` (free tracks' boxes, clipped to the frame of size ``shape``) of the track a detected
        ``box`` continues, -1 for none: of those overlapping it by ``match_iou`` or more, or, ``at_edge``, of those
        that reach the same edge of the frame as it and share ``match_cover`` of the smaller box's area with it (a
        hand leaving the picture: its detected box shrinks to the part still in view, or boxes a part of it, and the
        IoU fell under ``match_iou``, a new id almost every frame), the one overlapping it most (by IoU, so a
        detection inside two tracks' boxes goes on with the closer one). Away from the edges a box inside a track's
        is a part of that hand (a finger boxed as a hand) and does not take the track over."""
        cfg = self.config
        margin = cfg.edge_margin * max(shape[:2])
        edges = edges_touched(box, shape, margin)
        best, best_iou = -1, -1.0
        for i, other in enumerate(boxes):
            other = clip_box(other, shape)
            if other is None:
                continue
            iou = box_iou(box, other)
            ok = (bool(edges & edges_touched(other, shape, margin)) and _cover(box, other) >= cfg.match_cover
                  if at_edge else iou >= cfg.match_iou)
            if ok and iou > best_iou:
                best, best_iou = i, iou
        return best

    def _start_without_detector(self, frame: np.ndarray) -> None:
        """No detector: one track from the start box, or from the whole frame."""
        h, w = frame.shape[:2]
        box = self.start_box if self.start_box is not None else np.array([0.0, 0.0, w, h])
        if self.frame_index == 0 and clip_box(box, frame.shape[:2]) is None:
            raise ValueError(f"the start box {[round(float(v), 1) for v in box]} (x, y, w, h) lies outside the "
                             f"{w} x {h} frame")
        self.tracks = [self._new_track(box, bool(self.start_is_left), None, None)]
        self.tracks[0].side_known = self.start_is_left is not None or not self.predictor.spec.mirror_left

    def _keypoints(self, frame: np.ndarray) -> tuple[list[Track], list[Prediction]]:
        """The tracks whose box lies on the frame and their keypoints, in one batch; a track whose side is not
        settled runs both mirrors, counts the more confident as this frame's call (:meth:`Track.vote`) and keeps
        the majority's side (settled until the next detection asks again)."""
        from handpose.inference.predictor import second_is_more_confident

        spec = self.predictor.spec
        kept: list[Track] = []
        prepared: list[Any] = []
        for track in self.tracks:
            box = clip_box(track.box, frame.shape[:2])
            if box is None:
                continue
            kept.append(track)
            prepared.append(spec.prepare(frame, box, track.is_left))
            if not track.side_known:
                prepared.append(spec.prepare(frame, box, not track.is_left))
        out = self.predictor.predict_prepared(prepared)
        preds, i = [], 0
        for track in kept:
            pred, i = out[i], i + 1
            if not track.side_known:
                other, i = out[i], i + 1
                first_side = track.is_left
                track.vote(first_side != second_is_more_confident(pred, other))  # this frame's call
                if track.is_left != first_side:
                    pred = other
                track.side_known = True
            preds.append(pred)
        return kept, preds

    def _run(self, frame: np.ndarray, t: float, fresh: frozenset[int] | set[int] = frozenset(),
             detected: bool = False) -> list[Prediction]:
        """Keypoints of every track in one batch; lost tracks dropped, boxes moved to the keypoints. A hand the
        detector found on this frame (its track id in ``fresh``) is reported even when its keypoints score too
        low to follow it (the detector's word that a hand is there), but not tracked further. With ``detected``
        (the detector ran on this frame) a track it did not find must reach the hand threshold to go on."""
        before = list(self.tracks)
        kept, preds = self._keypoints(frame)
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
        # two tracks on one hand (boxes overlapping by IoU > 0.5): one goes, as in the detector's NMS (:meth:`_merge`:
        # the one that came there steadily where the other jumped, else the better by the hand score of image
        # prediction, keypoints and the detector's word, not the keypoints alone: a hand with its forearm can score
        # higher keypoints than the hand itself)
        ranks = np.array([track_rank(t, weight) for t, _ in alive])
        boxes = np.array([p.box for _, p in alive], np.float64).reshape(-1, 4)  # (N, 4) this frame's crop boxes
        keep = self._merge([t for t, _ in alive], boxes, ranks, box_iou_matrix(boxes, boxes), DUPLICATE_IOU)
        alive, ranks, boxes = [alive[int(i)] for i in keep], ranks[keep], boxes[keep]
        # and a track inside another's box (a finger followed as a hand of its own), or around it (the hand with its
        # forearm): one goes too, the same way
        keep = self._merge([t for t, _ in alive], boxes, ranks, smaller_cover(boxes, boxes), self.config.nested_cover)
        merged = [alive[int(i)] for i in keep]
        self.tracks = [t for t, _ in merged]
        for track, pred in reported:  # a lost hand the detector vouches for: shown, not tracked
            if all(box_iou(pred.box, other.box) < DUPLICATE_IOU for _, other in merged):
                merged.append((track, pred))
        self._name_new([track for track, _ in merged])
        following = {id(t) for t in self.tracks}
        self._lose([t for t in before if id(t) not in following])  # gone, hidden, merged into another or shown once
        for track, pred in merged:
            track.past = [*track.past, np.asarray(pred.box, np.float64)][-HISTORY:]  # this frame's box, for the next
            if track.last_seen != self.frame_index:
                track.streak = track.streak + 1 if track.last_seen == self.frame_index - 1 else 1
            track.last_seen = self.frame_index
            pred.keypoints = track.filter(pred.keypoints, t).astype(np.float32)
            pred.score, pred.is_left, pred.left_score = track.score, track.is_left, track.left_score
            if self.predictor.refine is not None and track.detector_score is not None:
                pred.detector_score = track.detector_score  # as image prediction reports a refined hand
            pred.track_id = track.id
        return [p for _, p in sorted(merged, key=lambda tp: tp[0].id)]

    def _merge(self, tracks: list[Track], boxes: np.ndarray, ranks: np.ndarray, overlap: np.ndarray,
               limit: float) -> np.ndarray:
        """Indices of the ``tracks`` kept, best rank first, where two overlap by more than ``limit`` (``overlap``
        (N, N) of their boxes on this frame, ``boxes`` (N, 4): two tracks on one hand, or one inside the other): the
        one that came there steadily where the other jumped (:func:`steady`), else the better ranked (``ranks``
        (N,)). A hand passing behind another: its track followed its keypoints onto the front hand over a few frames
        and, ranked higher (its detector probability), took the front hand's track and id (a swap); now it goes
        (lost, so it may come back where its own hand shows again)."""
        kept: list[int] = []
        for i in (int(v) for v in np.argsort(-ranks, kind="stable")):
            rivals = [j for j in kept if overlap[i, j] > limit]
            if not rivals:
                kept.append(i)
            elif len(rivals) == 1:  # the better ranked stays unless it jumped there and this one did not
                j, iou = rivals[0], self.config.match_iou
                if steady(tracks[i], boxes[i], iou) and not steady(tracks[j], boxes[j], iou):
                    kept[kept.index(j)] = i
        return np.array(sorted(kept, key=lambda k: -ranks[k]), np.int64)

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
