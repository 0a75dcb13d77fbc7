"""What the keypoints-through-the-detector evaluation saw on each image, kept in ``eval_detected.json``.

The figures of ``evaluate_detected`` say how many hands were found and how many detections were false; these records
say which. One record an image, written on one line of the report's ``images`` list::

    {"set":"hand_labels","image":"/data/hand_labels/test/0001.jpg",
     "hands":[{"key":"test/0001_l.jpg","detection":0,"iou":0.81,"keypoints":[[x,y,score],...21]},
              {"key":"test/0001_r.jpg","detection":null,"iou":0,"keypoints":null}],
     "boxes":[[x,y,w,h],...],"scores":[...],"left":[...]}

``hands`` are the image's annotated hands (their dataset keys, as ``eval_report.json``'s predictions name them):
``detection`` the index into ``boxes`` of the detection matched to the hand (IoU >= 0.5; null: none), ``iou``
that match's IoU, ``keypoints`` the 21 keypoints read in that detection's box (x, y in image pixels and the peak
score, rounded to 3 decimals; in memory a (21, 3) array). A hand is found where it has keypoints (null: not found,
also where its detection's crop lay off the image and no keypoints could be read). ``boxes``, ``scores`` and
``left`` are every hand the detector (refined by the keypoint model where it is) kept on the image, in its order: a
detection no hand names is a false positive. Boxes are ``[x, y, w, h]`` in image pixels rounded to 2 decimals,
scores and the left-hand probability to 4. ``set`` is the dataset's name in the report's ``sets``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from handpose.files import json_safe, write_json_list_last

KEY = "images"  # the report's key for the per-image records


def image_record(image: str | Path, keys: Sequence[str], matched: np.ndarray, iou: np.ndarray,
                 keypoints: dict[int, tuple[np.ndarray, np.ndarray]], detections: Sequence[Any]) -> dict[str, Any]:
    """One image's record (module docstring). ``keys`` the annotated hands' keys; ``matched`` (M,) the index of
    each hand's detection (-1: none); ``iou`` (N, M) detection-hand IoU; ``keypoints`` hand index -> ((21, 2) px,
    (21,) scores) for the found hands whose keypoints were read; ``detections`` the image's detections (``box``,
    ``score``, ``left_score``)."""
    hands = []
    for g, key in enumerate(keys):
        j = int(matched[g])
        points = None
        if g in keypoints:  # (21, 3) x, y, score: an array (about 0.6 kB), not 84 Python objects, until it is written
            xy, scores = keypoints[g]
            points = np.concatenate([np.asarray(xy, np.float64).reshape(-1, 2),
                                     np.asarray(scores, np.float64).reshape(-1, 1)], axis=1).round(3)
        hands.append({"key": key, "detection": j if j >= 0 else None,
                      "iou": round(float(iou[j, g]), 4) if j >= 0 else 0, "keypoints": points})
    left = [getattr(d, "left_score", None) for d in detections]
    return {"image": str(image), "hands": hands,
            "boxes": [[round(float(v), 2) for v in np.asarray(d.box, np.float64).reshape(4)] for d in detections],
            "scores": [round(float(d.score), 4) for d in detections],
            "left": [round(float(p), 4) if p is not None and math.isfinite(float(p)) else None for p in left]}


def write_report(path: str | Path, report: dict[str, Any]) -> Path:
    """``report`` as ``files.write_json`` lays it out, with its ``images`` last, one image a line. Returns the path."""
    def compact(record: dict[str, Any]) -> str:
        return json.dumps(json_safe(record), separators=(",", ":"), allow_nan=False)

    return write_json_list_last(path, report, KEY, compact)
