"""Two tracks that come to cover one hand become one.

Two tracks whose boxes overlap by more than ``DUPLICATE_IOU`` follow one hand (one goes, as in the detector's NMS),
and of two whose smaller box lies mostly inside the other (``TrackingConfig.nested_cover``: a finger followed as a
hand of its own, or the hand boxed with its forearm) one goes too, whichever of the two is the smaller. The track kept
is the better ranked (the hand score of image prediction, keypoints and the detector's word, not the keypoints alone:
a hand with its forearm can score higher keypoints than the hand itself), unless it jumped there and the other came
steadily (``track.steady``): a hand passing behind another, its track followed its keypoints onto the front hand
over a few frames and, ranked higher (the detector's probability at its last detection), took the front hand's track
and id, a swap; now it is the one lost, so it may come back where its own hand shows again (``lost``).

A track started on this frame, or a lost hand brought back on it (``lost``), more than
``TrackingConfig.merge_points`` (None: the predictor's ``RefineConfig.merge_points``, its default without
refinement) of whose keypoints lie on the keypoints of a followed hand that the detector found on this frame too and
that ranks no lower (``refine.shared_points``, the rule of image prediction: the better scored of two hands that share
keypoints stays) is that hand read twice, whatever the boxes (:func:`drop_read_twice`): the detector boxed the hand
and a part of it, and the part's box is neither inside the hand's nor overlapping it enough to merge (a lost hand,
often a false one, brought back by such a box was shown on the followed hand again). A second hand passing in front
of a followed one has keypoints of its own and is kept, where a rule on boxes alone (a new box mostly inside a
followed one) would drop it too; a followed track the detector did not find (a hand passing behind another, its
track reading the front hand) drops no new track, or the front hand took the hidden hand's id. Measured in
BENCHMARKS.md, "Track ids through occlusion".
"""

from __future__ import annotations

import numpy as np

from handpose.detection.metrics import box_iou as box_iou_matrix
from handpose.detection.metrics import smaller_cover
from handpose.inference.refine import shared_points
from handpose.inference.tracking.config import TrackingConfig
from handpose.inference.tracking.track import Track, steady

DUPLICATE_IOU = 0.5  # two tracks whose boxes overlap more than this follow one hand (merged, as the detector's NMS)


def merge(tracks: list[Track], boxes: np.ndarray, ranks: np.ndarray, overlap: np.ndarray, limit: float,
          match_iou: float) -> np.ndarray:
    """Indices of the ``tracks`` kept, best rank first, where two overlap by more than ``limit`` (``overlap``
    (N, N) of their boxes on this frame, ``boxes`` (N, 4)): the one that came there steadily (:func:`steady` at
    ``match_iou``) where the other jumped, else the better ranked (``ranks`` (N,))."""
    kept: list[int] = []
    for i in (int(v) for v in np.argsort(-ranks, kind="stable")):
        rivals = [j for j in kept if overlap[i, j] > limit]
        if not rivals:
            kept.append(i)
        elif len(rivals) == 1:  # the better ranked stays unless it jumped there and this one did not
            j = rivals[0]
            if steady(tracks[i], boxes[i], match_iou) and not steady(tracks[j], boxes[j], match_iou):
                kept[kept.index(j)] = i
    return np.array(sorted(kept, key=lambda k: -ranks[k]), np.int64)


def merge_duplicates(tracks: list[Track], boxes: np.ndarray, ranks: np.ndarray, config: TrackingConfig) -> np.ndarray:
    """Indices of the ``tracks`` (their crop boxes this frame ``boxes`` (N, 4), ranks (N,)) left after merging those
    on one hand (IoU over ``DUPLICATE_IOU``), then those nested (``nested_cover``), best rank first."""
    keep = merge(tracks, boxes, ranks, box_iou_matrix(boxes, boxes), DUPLICATE_IOU, config.match_iou)  # (K,)
    tracks, boxes, ranks = [tracks[int(i)] for i in keep], boxes[keep], ranks[keep]
    nested = merge(tracks, boxes, ranks, smaller_cover(boxes, boxes), config.nested_cover, config.match_iou)  # (M,)
    return keep[nested]


def drop_read_twice(tracks: list[Track], points: list[np.ndarray], ranks: np.ndarray, found: set[int] | frozenset[int],
                    share: float, back: set[int] | frozenset[int] = frozenset()) -> np.ndarray:
    """Indices of the ``tracks`` kept, in order: a track started on this frame (a candidate, id < 0) or a lost hand
    brought back on it (its id in ``back``) more than ``share`` of whose keypoints (``points``, this frame's, (K, 2) or
    more columns each) lie on those of a track followed before it (id >= 0) that the detector found on this frame too
    (its id in ``found``) and that ranks no lower (``ranks`` (N,); a hand brought back itself must rank higher, so two
    brought back never drop each other), at the smaller of the two hands' scale (``refine.shared_points``, the sizes
    the longer sides of their keypoints' boxes), is dropped; ``share`` 1 keeps all. A followed track the detector did
    not find (a hand passing behind another, its track reading the front hand) does not drop the front hand's new
    track."""
    followed = [i for i, t in enumerate(tracks) if t.id >= 0 and t.id in found]
    started = [i for i, t in enumerate(tracks) if t.id < 0 or t.id in back]
    if share >= 1.0 or not followed or not started:
        return np.arange(len(tracks), dtype=np.int64)
    sizes = np.array([float(np.asarray(t.box)[2:].max()) for t in tracks])  # (N,) px
    xy = np.stack([np.asarray(p, np.float64)[:, :2] for p in points])  # (N, K, 2)
    shared = shared_points(xy, sizes)  # (N, N)

    def outranks(j: int, i: int) -> bool:
        return bool(ranks[j] > ranks[i] or (ranks[j] == ranks[i] and tracks[j].id not in back))

    gone = {i for i in started if any(shared[i, j] > share and outranks(j, i) for j in followed if j != i)}
    return np.array([i for i in range(len(tracks)) if i not in gone], np.int64)
