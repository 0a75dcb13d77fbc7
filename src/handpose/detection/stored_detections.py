"""The detections a detection evaluation scored, kept in its report so they can be re-scored without the model.

Each scored image gets one record, written on one line of ``detection_eval.json``'s ``detections`` list::

    {"image_id":7,"file_name":"00000007.png","boxes":[[x,y,w,h],...],"scores":[...],"left":[...]}

``image_id`` and ``file_name`` are the ground-truth json's own (``images[].id`` and ``file_name``); ``boxes`` are
COCO ``[x, y, width, height]`` in original image pixels rounded to 2 decimals, ``scores`` the hand scores rounded
to 4, ``left`` the left-hand probability rounded to 4 (null where there is none), each image's hands best first.
:func:`coco_results` turns the records into COCO's detection results list (``[{image_id, category_id, bbox,
score}]``, what ``pycocotools``' ``COCO.loadRes`` takes).

Records are kept as their compact text (about 40 bytes a detection, 20 detections an image at most per scale
pass), not as Python lists of floats (five times that), and parsed only when one is read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from handpose.detection.coco import DetectionImage
from handpose.detection.metrics import ImageResult
from handpose.files import json_safe, json_text, write_list

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


class StoredDetections(Sequence):
    """The records of the scored images, in order, each held as its compact JSON text; ``[i]`` parses one."""

    def __init__(self, records: Iterable[dict[str, Any]] = ()) -> None:
        self.lines = [json.dumps(json_safe(r), separators=(",", ":"), allow_nan=False) for r in records]

    def __len__(self) -> int:
        return len(self.lines)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [json.loads(line) for line in self.lines[i]]
        return json.loads(self.lines[i])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredDetections):
            return self.lines == other.lines
        if isinstance(other, list):
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by content

    def __repr__(self) -> str:
        return f"StoredDetections({len(self)} images)"


def coco_results(records: Iterable[dict[str, Any]], category_id: int = 1) -> list[dict[str, Any]]:
    """COCO's detection results list from stored records: one ``{image_id, category_id, bbox, score}`` a box;
    ``category_id`` the ground truth's hand category."""
    return [{"image_id": r["image_id"], "category_id": category_id, "bbox": box, "score": score}
            for r in records for box, score in zip(r["boxes"], r["scores"])]


def write_report(path: str | Path, report: dict[str, Any]) -> Path:
    """``report`` as ``files.write_json(path, report, sort_keys=True)`` lays it out, but with its ``detections``
    (a :class:`StoredDetections`) last, one image a line: a box's four figures on four lines each would make the
    file several times larger. Returns the path."""
    stored = report.get(KEY)
    lines = stored.lines if isinstance(stored, StoredDetections) else StoredDetections(stored or []).lines
    head = json_text({k: v for k, v in report.items() if k != KEY}, sort_keys=True, indent=1)  # "{\n ...\n}"
    if not lines:
        return write_list(path, head[:-2] + f',\n "{KEY}": []\n}}\n', [], "")
    return write_list(path, head[:-2] + f',\n "{KEY}": [\n  ', lines, "\n ]\n}\n", ",\n  ")
