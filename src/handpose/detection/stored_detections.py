"""The detections a detection evaluation scored, kept in its report so they can be re-scored without the model.

Each scored image gets one record, written on one line of ``detection_eval.json``'s ``detections`` list::

    {"image_id":7,"file_name":"00000007.png","boxes":[[x,y,w,h],...],"scores":[...],"left":[...]}

``image_id`` and ``file_name`` are the ground-truth json's own (``images[].id`` and ``file_name``); ``boxes`` are
COCO ``[x, y, width, height]`` in original image pixels rounded to 2 decimals, ``scores`` the hand scores rounded
to 4, ``left`` the left-hand probability rounded to 4 (null where there is none), each image's hands best first.
:func:`coco_results` turns the records into COCO's detection results list (``[{image_id, category_id, bbox,
score}]``, what ``pycocotools``' ``COCO.loadRes`` takes). One line an image keeps the file small (about 40 bytes a
detection); indented, each box's four figures would take four lines.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from handpose.detection.coco import DetectionImage
from handpose.detection.metrics import ImageResult
from handpose.files import json_safe, write_json_list_last

KEY = "detections"  # the report's key for the per-image records


def image_detections(item: DetectionImage, result: ImageResult) -> dict[str, Any]:
    """One image's record (module docstring): ``result``'s detections, best first, rounded as stored."""
    order = np.argsort(-np.asarray(result.scores, np.float64), kind="stable")  # (N,)
    boxes = np.asarray(result.boxes, np.float64).reshape(-1, 4)[order]  # (N, 4) xywh
    scores = np.asarray(result.scores, np.float64)[order]  # (N,)
    left = np.asarray(result.left, np.float64).reshape(-1)
    left = left[order] if left.size == order.size else np.full(order.size, np.nan)  # (N,)
    return {"image_id": item.image_id, "file_name": item.key,
            "boxes": [[round(float(v), 2) for v in box] for box in boxes],
            "scores": [round(float(s), 4) for s in scores],
            "left": [round(float(p), 4) if math.isfinite(p) else None for p in left]}


def coco_results(records: Iterable[dict[str, Any]], category_id: int = 1) -> list[dict[str, Any]]:
    """COCO's detection results list from stored records: one ``{image_id, category_id, bbox, score}`` a box;
    ``category_id`` the ground truth's hand category."""
    return [{"image_id": r["image_id"], "category_id": category_id, "bbox": box, "score": score}
            for r in records for box, score in zip(r["boxes"], r["scores"])]


def write_report(path: str | Path, report: dict[str, Any]) -> Path:
    """``report`` as ``files.write_json(path, report, sort_keys=True)`` lays it out, with its ``detections`` last,
    one image a line. Returns the path."""
    def compact(record: dict[str, Any]) -> str:
        return json.dumps(json_safe(record), separators=(",", ":"), allow_nan=False)

    return write_json_list_last(path, report, KEY, compact, sort_keys=True)
