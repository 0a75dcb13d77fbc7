"""The detections a detection evaluation scored, kept in its report so they can be re-scored without the model.

Each scored image gets one record, written on one line of ``detection_eval.json``'s ``detections`` list::

    {"image_id":7,"file_name":"00000007.png","boxes":[[x,y,w,h],...],"scores":[...],"left":[...]}

``image_id`` and ``file_name`` are the ground-truth json's own (``images[].id`` and ``file_name``); ``boxes`` are
COCO ``[x, y, width, height]`` in original image pixels rounded to 2 decimals, ``scores`` the hand scores rounded
to 4, ``left`` the left-hand probability rounded to 4 (null where there is none), each image's hands best first.
:func:`coco_results` turns the records into COCO's detection results list (``[{image_id, category_id, bbox,
score}]``, what ``pycocotools``' ``COCO.loadRes`` takes). One line an image keeps the file small (about 40 bytes a
detection); indented, each box's four figures would take four lines.

An evaluation spools the records as it scores the images (:class:`DetectionLines`: a hidden line file beside the
report, ``handpose.line_spools``) and copies them into the report at the end, so that no record stays in memory
however many images there are; the file has the bytes :func:`write_report` gives the whole list.
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
from handpose.line_spools import LineSpools

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


def record_text(record: dict[str, Any]) -> str:
    """One record's line in the report: compact JSON, NaN refused."""
    return json.dumps(json_safe(record), separators=(",", ":"), allow_nan=False)


def write_report(path: str | Path, report: dict[str, Any]) -> Path:
    """``report`` as ``files.write_json(path, report, sort_keys=True)`` lays it out, with its ``detections`` last,
    one image a line. Returns the path."""
    return write_json_list_last(path, report, KEY, record_text, sort_keys=True)


class DetectionLines:
    """The ``detections`` of a report to be written at ``path``, one line an image spooled into a hidden file in its
    folder as the images are scored (:meth:`add`) and copied into it by :meth:`write`; a context manager that
    removes the spool however the run ends. The spool, and the folder, are made with the first record: a run that
    scores no image leaves nothing behind."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.spools = LineSpools(self.path.parent, (self.path.stem,))
        self.count = 0  # records spooled

    def __enter__(self) -> DetectionLines:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.count:
            self.spools.__exit__(*exc)

    def add(self, item: DetectionImage, result: ImageResult) -> None:
        """Spool one scored image's record (:func:`image_detections`)."""
        if not self.count:
            self.spools.__enter__()
        self.spools.write(0, record_text(image_detections(item, result)), self.path)
        self.count += 1

    def write(self, report: dict[str, Any]) -> Path:
        """``report`` (without ``detections``) and the spooled records after it, the bytes :func:`write_report`
        gives with the records in a list; returns the path."""
        if not self.count:
            return write_report(self.path, {**report, KEY: []})
        self.spools.close([self.path])  # the lines still buffered are written now
        return write_json_list_last(self.path, {**report, KEY: self.spools.lines(0)}, KEY, str, sort_keys=True)
