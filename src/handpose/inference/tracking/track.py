"""One followed hand (:class:`Track`): its id, box, side, scores, keypoint filter and recent boxes.

A track's side is the majority of its recent calls (:meth:`Track.vote`; a detection whose side the detector tells
sets it and counts as one call, :meth:`Track.told`), so one doubtful call of the keypoint network (a hand turned
edge-on) does not turn a side that the calls before agreed on, where each detection deciding afresh turned it back
and forth. Tracks are ranked by the hand score of image prediction (:func:`track_rank`), and a track's recent boxes
(``past``) tell whether it came to its place steadily or jumped there (:func:`steady`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from handpose.inference.refine import hand_score
from handpose.inference.smoothing import OneEuroFilter
from handpose.inference.tracking.boxes import box_iou

SIDE_MEMORY = 3  # a track's side tally stays within +-3 calls (Track.vote)
HISTORY = 3  # a track keeps its boxes this many frames back: of two merged tracks, had one jumped there (steady)


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
    trial: int = 0  # a candidate's frames followed so far, towards confirm_frames (tentative.on_trial)
    before: np.ndarray | None = None  # (4,) lost after its box jumped: its box from before the jump (lost.keep_lost)

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


def steady(track: Track, box: np.ndarray, iou: float) -> bool:
    """Whether the ``track``, in ``box`` now, came there steadily: its box ``HISTORY`` frames ago (or at its start,
    when younger) overlaps ``box`` by ``iou``, as a detection must overlap a track to continue it (False for a track
    started on this frame: no past to vouch for it). A track that followed its keypoints from a hidden hand onto the
    hand in front of it has moved a hand's width or so in those frames."""
    return bool(track.past) and box_iou(track.past[0], box) >= iou
