"""The keypoints of every followed hand on one frame, in one batch of crops.

A track whose side is not settled (the detector could not tell it, ``Predictor.side_from_keypoints``) runs both
mirrors of its crop: the more confident is this frame's call of its side (:meth:`Track.vote`), one extra crop once
per detection rather than another pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from handpose.inference.pipeline import clip_box
from handpose.inference.tracking.track import Track

if TYPE_CHECKING:
    from handpose.inference.predictor import Prediction, Predictor


def track_keypoints(predictor: Predictor, tracks: list[Track], frame: np.ndarray) -> tuple[list[Track],
                                                                                        list[Prediction]]:
    """The ``tracks`` whose box lies on the ``frame`` (H, W, 3) and their keypoints, in one batch; a track whose side
    is not settled runs both mirrors, counts the more confident as this frame's call (:meth:`Track.vote`) and keeps
    the majority's side (settled until the next detection asks again)."""
    from handpose.inference.predictor import second_is_more_confident

    spec = predictor.spec
    kept: list[Track] = []
    prepared: list[Any] = []
    for track in tracks:
        box = clip_box(track.box, frame.shape[:2])
        if box is None:
            continue
        kept.append(track)
        prepared.append(spec.prepare(frame, box, track.is_left))
        if not track.side_known:
            prepared.append(spec.prepare(frame, box, not track.is_left))
    out = predictor.predict_prepared(prepared)
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
