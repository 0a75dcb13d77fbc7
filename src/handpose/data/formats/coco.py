"""``coco``: COCO-style keypoint json (or a folder of them, also under ``annotations/``), as MMPose ships
OneHand10K, FreiHAND, CMU Panoptic and RHD: ``images`` and ``annotations`` with ``keypoints`` (63 numbers),
``bbox`` [x, y, w, h], optional ``head_size`` and ``is_left``. One sample per annotation; the box is the
annotation's ``bbox`` (the keypoints' tight box where it has none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from handpose.data import skip_report as R
from handpose.data.formats.base import ReadContext, Tagged
from handpose.data.formats.checks import BadAnnotationError, box_of, head_size, parse_keypoints, to_float32, to_float64
from handpose.data.formats.coco_files import CocoFile, read_annotations
from handpose.data.sample import Sample

NAME = "coco"
EXPECTED = ("a COCO keypoint json (or a folder of them, also under annotations/) with 'images' "
            "and 'annotations' holding 63 'keypoints' numbers each")


def _box(kp: np.ndarray, bbox: Any) -> np.ndarray:
    """(4,) float32 box: the given [x, y, w, h] when valid, else the tight box of the visible keypoints."""
    if bbox is not None:
        try:
            b = to_float32(to_float64(bbox).reshape(-1))
            if b.size == 4 and np.isfinite(b).all() and b[2] > 0 and b[3] > 0:
                return b
        except (TypeError, ValueError):
            pass
    return box_of(kp)


def _read_one(cf: CocoFile, i: int, ann: dict[str, Any], where: str) -> Tagged:
    if "keypoints" not in ann:
        raise BadAnnotationError(R.BAD_ANNOTATION, "no 'keypoints'")
    name, _ = cf.image_of(ann)
    kp = parse_keypoints(ann["keypoints"])
    img = cf.image_path(name)
    key = f"{name}#{ann.get('id', i)}"
    is_left = bool(ann.get("is_left", False))
    return [(Sample(img, kp, is_left, _box(kp, ann.get("bbox")), head_size(ann.get("head_size")), key), cf.tag)]


def read(path: Path, ctx: ReadContext) -> Tagged:
    """One sample per annotation with 63 keypoint numbers, in every COCO json at ``path``."""
    return read_annotations(path, ctx, EXPECTED, _read_one)
