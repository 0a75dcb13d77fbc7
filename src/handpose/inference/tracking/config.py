"""The tracker's settings: when the detector runs, when a track is lost, how a detection is matched to a track,
how long a lost hand keeps its id, when a new track is a followed hand read twice, when a new hand is shown, how
keypoints are smoothed."""

from __future__ import annotations

from dataclasses import dataclass, field

from handpose.inference.smoothing import SmoothingConfig


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
    # a new track with more than this share of its keypoints on a followed hand's is that hand read twice (1: off;
    # None: the predictor's RefineConfig.merge_points, its default without refinement; merging.drop_read_twice)
    merge_points: float | None = None
    # a new hand is shown (and given an id) once followed on this many frames in a row, its hand score reaching the
    # hand threshold on each with refinement (1: at once; ``tentative``)
    confirm_frames: int = 1
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)

    def __post_init__(self) -> None:
        if (self.detect_every < 0 or self.max_hands < 1 or self.lost_frames < 0 or not self.rejoin_distance >= 0
                or self.confirm_frames < 1):
            raise ValueError(f"tracking needs detect_every >= 0, max_hands >= 1, lost_frames >= 0, "
                             f"rejoin_distance >= 0 and confirm_frames >= 1, got {self}")
        if self.merge_points is not None and not 0.0 <= self.merge_points <= 1.0:
            raise ValueError(f"tracking needs merge_points in [0, 1] or None, got {self.merge_points}")
