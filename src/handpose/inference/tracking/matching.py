"""Which followed hand each detection continues: by box overlap first, then, for the detections left, at the
frame's edge by nesting.

Each detection in turn takes the free track it overlaps by ``match_iou`` (the one it overlaps most). Only then do
the detections left take a free track where both boxes reach one edge of the frame and the smaller lies mostly inside
the other (``match_cover``): a hand leaving the picture is boxed smaller and smaller, or by a part of it, and took a
new id almost every frame. Overlap goes first so that a second hand coming in at the edge inside a followed hand's box
does not take that hand's track from the hand's own detection. Away from the edges a box inside a track's is a part
of that hand (a finger boxed as a hand) and does not take the track over.
"""

from __future__ import annotations

import numpy as np

from handpose.inference.pipeline import clip_box
from handpose.inference.tracking.boxes import box_cover, box_iou, edges_touched
from handpose.inference.tracking.config import TrackingConfig


def match_track(box: np.ndarray, boxes: list[np.ndarray], shape: tuple[int, ...], config: TrackingConfig,
                at_edge: bool = False) -> int:
    """The index in ``boxes`` (free tracks' boxes, clipped to the frame of size ``shape``) of the track a detected
    ``box`` continues, -1 for none: of those overlapping it by ``match_iou`` or more, or, ``at_edge``, of those
    that reach the same edge of the frame as it and share ``match_cover`` of the smaller box's area with it, the one
    overlapping it most (by IoU, so a detection inside two tracks' boxes goes on with the closer one)."""
    margin = config.edge_margin * max(shape[:2])
    edges = edges_touched(box, shape, margin)
    best, best_iou = -1, -1.0
    for i, other in enumerate(boxes):
        other = clip_box(other, shape)
        if other is None:
            continue
        iou = box_iou(box, other)
        ok = (bool(edges & edges_touched(other, shape, margin)) and box_cover(box, other) >= config.match_cover
              if at_edge else iou >= config.match_iou)
        if ok and iou > best_iou:
            best, best_iou = i, iou
    return best


def assign_detections(boxes: list[np.ndarray | None], track_boxes: list[np.ndarray], shape: tuple[int, ...],
                      config: TrackingConfig) -> list[int | None]:
    """For each detected box (None: off the frame of size ``shape``), the index in ``track_boxes`` of the track it
    continues, or None: by overlap first, then at the frame's edge (module docstring); each track is taken once."""
    free = list(range(len(track_boxes)))
    matched: list[int | None] = [None] * len(boxes)
    for at_edge in (False, True):
        for j, box in enumerate(boxes):
            if box is None or matched[j] is not None:
                continue
            best = match_track(box, [track_boxes[i] for i in free], shape, config, at_edge)
            if best >= 0:
                matched[j] = free.pop(best)
    return matched
