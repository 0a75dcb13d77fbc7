"""Lost hands: kept for a grace of ``lost_frames`` frames, brought back by a detection where they were last seen.

A hand lost after it was shown (hidden behind the other hand or an object, gone from the picture, or under the
tracker's thresholds for a frame or two) is kept as lost, not reported (:func:`keep_lost`). A detection that matches
no followed hand brings it back (:func:`rejoin_pairs`) where it lies where the lost hand was last seen (overlapping
its box by ``match_iou``, or its centre within ``rejoin_distance`` of the longer side of the larger box; neither box
more than ``REJOIN_SCALE`` times the other's size), or where it was before its box jumped (:attr:`Track.before`: a
hand passing behind another, its track followed the front hand's keypoints and was dropped there, ``merging``, so its
last box lies on the front hand), and is not of the other side where both the detector and the lost track are sure of
theirs (:attr:`Track.side_sure`). A lost hand counts towards no limit and blocks no id; each comes back once. Brought
back, it is checked as a new track is: on a followed hand's keypoints, it is that hand read twice and stays lost
(``merging.drop_read_twice``). Brought back and not shown (read twice, or merged into a followed hand), it is lost
again as it was before that frame (its boxes, frame of last sight and side calls), so later detections are matched
where it was lost, not on the hand it was read on.
"""

from __future__ import annotations

import numpy as np

from handpose.inference.tracking.boxes import box_iou
from handpose.inference.tracking.config import TrackingConfig
from handpose.inference.tracking.track import Track, steady

REJOIN_SCALE = 2.0  # a lost hand is not brought back by a box more than twice as large or small (a finger boxed)


def keep_lost(ended: list[Track], config: TrackingConfig) -> list[Track]:
    """Of the tracks that ended this frame, those to keep as lost for ``lost_frames`` (none at 0): those shown (an
    id). One whose box jumped (:func:`steady` fails: a hand passing behind another, its track followed the front
    hand's keypoints and was dropped there) also keeps its box from before the jump (:attr:`Track.before`, its oldest
    in ``past``), where the hand was last seen for sure, for :func:`rejoin_pairs`."""
    if config.lost_frames <= 0:
        return []
    kept = []
    for track in ended:
        if track.id >= 0:
            jumped = bool(track.past) and not steady(track, track.box, config.match_iou)
            track.before = track.past[0] if jumped else None
            kept.append(track)
    return kept


def rejoin_pairs(boxes: list[tuple[np.ndarray, bool | None]], lost: list[Track],
                 config: TrackingConfig) -> dict[int, Track]:
    """Which ``lost`` tracks the detected boxes that match no followed hand bring back: {index in ``boxes``: track}.
    A box and a lost track pair where the track's last box, or its box from before a jump (:attr:`Track.before`),
    overlaps it by ``match_iou``, or their centres lie within ``rejoin_distance`` of the larger box's longer side,
    and neither box's longer side is more than ``REJOIN_SCALE`` times the other's; a track whose side is sure
    (:attr:`Track.side_sure`) does not pair with a box whose side the detector tells (True: left; None: it cannot
    tell) the other way. Pairs are taken best first, each box and each track once; best: the distance of the
    centres over the larger box's longer side plus the log of the ratio of the longer sides (0: the same place
    and size; of a track's two boxes the nearer), so of a hand and a finger of it boxed beside it the hand takes
    the id (the most overlap gave it to a part of the hand when the lost box was the flat box of keypoints read on
    the occluder, the frame before the hand was lost)."""
    pairs = []
    for i, (box, is_left) in enumerate(boxes):
        for j, track in enumerate(lost):
            if is_left is not None and track.side_sure and track.is_left != is_left:
                continue
            costs = []
            for seen in [track.box] if track.before is None else [track.box, track.before]:
                iou = box_iou(box, seen)
                gap = float(np.linalg.norm((box[:2] + box[2:] / 2) - (seen[:2] + seen[2:] / 2)))  # px
                sizes = sorted([float(box[2:].max()), float(seen[2:].max())])  # px, the smaller first
                if sizes[1] > REJOIN_SCALE * sizes[0] or (iou < config.match_iou
                                                          and gap > config.rejoin_distance * sizes[1]):
                    continue
                costs.append(gap / sizes[1] + float(np.log(sizes[1] / sizes[0])))  # 0: same place and size
            if costs:
                pairs.append((min(costs), i, j))
    back: dict[int, Track] = {}
    taken: set[int] = set()
    for _, i, j in sorted(pairs):
        if i not in back and j not in taken:
            back[i] = lost[j]
            taken.add(j)
    return back
