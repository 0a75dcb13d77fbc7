"""The detect -> crop -> keypoints step of :class:`~handpose.inference.predictor.Predictor`, and box formats.

Rule of ``Predictor.predict``: a box given -> that one hand (one ``Prediction``, no detection); no box -> a list
of hands (:class:`~handpose.inference.results.Hands`, possibly empty): every hand the detector finds, or, without a
detector, the whole image taken as one hand (the behaviour before the detector existed).
Each detected hand is cropped around its box as training crops a labelled hand, a left hand mirrored first when the
keypoint model was trained with ``mirror_left`` (the detector's handedness decides), and all hands of an image go
through the keypoint network in one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

BOX_FORMATS = ("xywh", "xyxy")


class Detector(Protocol):
    """What the pipeline needs of a hand detector (``detection.HandDetector``, or a test's stub)."""

    def detect(self, image_bgr: np.ndarray) -> list[Any]: ...  # Detection: box xywh, score, is_left, left_score


def to_xywh(box: Sequence[float] | np.ndarray, box_format: str = "xywh") -> np.ndarray:
    """(4,) float64 ``[x, y, w, h]`` from a box in ``box_format`` (``xywh`` or ``xyxy`` = corners)."""
    if box_format not in BOX_FORMATS:
        raise ValueError(f"box_format must be one of {', '.join(BOX_FORMATS)}, got {box_format!r}")
    if isinstance(box, (str, bytes)):
        raise ValueError(f"box must be 4 numbers ({box_format}) in a list, tuple or array; got the string {box!r}")
    try:
        arr = np.asarray(box, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"box must be 4 numbers ({box_format}); got {box!r}") from None
    if arr.size != 4:
        raise ValueError(f"box must be 4 numbers ({box_format}); got {arr.size}: {','.join(f'{v:g}' for v in arr)}")
    if box_format == "xyxy":
        if np.isfinite(arr).all() and not (arr[2] > arr[0] and arr[3] > arr[1]):
            raise ValueError(f"box {','.join(f'{v:g}' for v in arr)} (xyxy) has no area: its second corner x1,y1 must "
                             "lie right of and below its first x0,y0")
        return np.array([arr[0], arr[1], arr[2] - arr[0], arr[3] - arr[1]])
    return arr


def crop_box_of(detection: Any) -> np.ndarray:
    """(4,) float64 the box a detection's crop is cut from: a refined detection's ``crop_box`` (its keypoints' own
    box, ``inference/refine``), else its ``box``."""
    crop_box = getattr(detection, "crop_box", None)
    return np.asarray(detection.box if crop_box is None else crop_box, np.float64)


def clip_box(box: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray | None:
    """``[x, y, w, h]`` cut to the image, or None when nothing of it is left (a detection off the edge)."""
    h, w = image_hw
    x0, y0 = max(0.0, float(box[0])), max(0.0, float(box[1]))
    x1, y1 = min(float(w), float(box[0] + box[2])), min(float(h), float(box[1] + box[3]))
    if x1 - x0 < 1.0 or y1 - y0 < 1.0:
        return None
    return np.array([x0, y0, x1 - x0, y1 - y0])
