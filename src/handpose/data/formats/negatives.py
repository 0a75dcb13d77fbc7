"""Hard negatives: boxes that hold no hand, which keypoint training reads as crops whose keypoint maps are all 0.

The file is a COCO json with ``images`` (``id``, ``file_name``, ``width``, ``height``) and ``annotations`` with a
``bbox`` [x, y, w, h] each (and optionally ``is_left``: the crop is mirrored as a left hand's would be); any
``keypoints`` are ignored. Image names resolve as in every COCO json handpose reads (``coco_files``): against the
json's folder first. ``scripts/hard_negatives.py`` writes one from the hand detector's false proposals on rendered
scenes, and ``handpose train --negatives FILE`` adds its boxes to the training samples (``Sample.negative``). A box
that is not 4 finite numbers, has no positive size or misses its image is skipped and counted, as hand boxes are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from handpose.data.formats.base import ReadContext, Tagged
from handpose.data.formats.checks import annotated_box
from handpose.data.formats.coco_files import CocoFile, read_annotations
from handpose.data.sample import Sample
from handpose.data.skip_report import SkipReport
from handpose.keypoints import NUM_KEYPOINTS

EXPECTED = "a COCO json with 'images' and 'annotations' holding a 'bbox' each (boxes that hold no hand)"


def _read_one(cf: CocoFile, i: int, ann: dict[str, Any], where: str, report: SkipReport) -> Tagged:
    name, wh = cf.image_of(ann)
    img = cf.image_path(name)
    box = annotated_box(ann.get("bbox"), cf.image_size(name, wh))
    kp = np.zeros((NUM_KEYPOINTS, 3), dtype=np.float32)  # no keypoint is labelled in a negative
    key = f"negative/{name}#{ann.get('id', i)}"
    return [(Sample(img, kp, bool(ann.get("is_left", False)), box, None, key, negative=True), cf.tag)]


def read_negatives(path: str | Path, report: SkipReport | None = None) -> list[Sample]:
    """The hard negatives of a json (or a folder of them): one ``Sample(negative=True)`` per annotation; skipped
    annotations are counted in ``report``. ValueError when there is no json, or no usable box in it."""
    path = Path(path)
    ctx = ReadContext(report=report if report is not None else SkipReport())
    samples = [s for s, _ in read_annotations(path, ctx, EXPECTED, _read_one)]
    if not samples:
        raise ValueError(f"{path}: no usable negative box; expected {EXPECTED}\n" + ctx.report.summary("annotations"))
    return samples
