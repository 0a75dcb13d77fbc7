"""New hands held back until confirmed: a track the detector starts is shown, and given an id, only once it has been
followed on ``TrackingConfig.confirm_frames`` frames in a row, its hand score (:func:`track.track_rank`) reaching
the hand threshold of images on each (with refinement, as images have that threshold only then).

Most false hands on rendered clips (a part of a hand boxed as one, the forearm) were shown for a frame or a few and
went, each under an id of its own; a real hand is shown ``confirm_frames - 1`` frames late. A hand shown before (a
lost hand brought back keeps its id) and a track without the detector's word (a start box, the whole frame) are
shown at once; a detection whose keypoints are too weak to follow cannot be confirmed and is not shown. Measured in
BENCHMARKS.md, "Track ids through occlusion".
"""

from __future__ import annotations

from typing import Literal

from handpose.inference.tracking.track import Track

Verdict = Literal["show", "hold", "drop"]


def on_trial(track: Track, followed: bool, rank: float, threshold: float | None, frames: int) -> Verdict:
    """This frame's verdict on a ``track`` (``followed``: it goes on to the next frame; ``rank`` its hand score
    this frame): "show" a hand shown before, one without a detection, or a candidate (id < 0) now followed on
    ``frames`` frames in a row (this one counted in :attr:`Track.trial`); "hold" a candidate not yet there; "drop" a
    candidate not followed, or, with a ``threshold`` (None: no refinement), ranked under it. ``frames`` 1 shows all."""
    if frames <= 1 or track.id >= 0 or track.detector_score is None:
        return "show"
    if not followed or (threshold is not None and rank < threshold):
        return "drop"
    track.trial += 1
    return "show" if track.trial >= frames else "hold"
