"""Hand tracking over video frames (MediaPipe-style): detect rarely, follow each hand by its own keypoints.

``HandTracker(predictor).update(frame, t)`` takes one frame at a time; how a frame is handled is told in
``tracker``, and each part in its own module: ``config`` (``TrackingConfig``), ``track`` (one followed hand, its side
votes), ``boxes`` (box arithmetic, the next box from the keypoints), ``matching`` (detections to tracks),
``merging`` (two tracks on one hand), ``lost`` (a lost hand's grace and return), ``tentative`` (a new hand shown
once confirmed), ``keypoint_run`` (one batch of crops). What each rule gained on rendered clips is measured by
``benchmarks/bench_track_ids.py`` and recorded in BENCHMARKS.md, "Track ids through occlusion".
"""

from handpose.inference.tracking.boxes import box_from_keypoints, box_iou, edges_touched, union_box
from handpose.inference.tracking.config import TrackingConfig
from handpose.inference.tracking.lost import REJOIN_SCALE
from handpose.inference.tracking.merging import DUPLICATE_IOU
from handpose.inference.tracking.track import HISTORY, SIDE_MEMORY, Track, steady, track_rank
from handpose.inference.tracking.tracker import HandTracker

__all__ = ["DUPLICATE_IOU", "HISTORY", "REJOIN_SCALE", "SIDE_MEMORY", "HandTracker", "Track", "TrackingConfig",
           "box_from_keypoints", "box_iou", "edges_touched", "steady", "track_rank", "union_box"]
