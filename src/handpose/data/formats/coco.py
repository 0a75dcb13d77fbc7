"""``coco``: COCO-style keypoint json (or a folder of them, also under ``annotations/``), as MMPose ships
OneHand10K, FreiHAND, CMU Panoptic and RHD: ``images`` and ``annotations`` with ``keypoints`` (63 numbers),
``bbox`` [x, y, w, h], optional ``head_size`` and ``is_left`` (0/1 or true/false), as labelling tools (CVAT, Label
Studio) export them too. The side is ``is_left``, else ``handedness`` ("left"/"right", "l"/"r", any case), either
also under ``attributes`` as CVAT exports it, else the
annotation's category where it names one side ("left_hand", "Right": ``coco_files.hand_categories``, as the detector
reads it); without any the hand's side is unknown (``Sample.side_known``); a value that is none of these is a
malformed annotation. Where the ``categories`` name hand categories, annotations of the others ("person") are left
out and counted (NOT_A_HAND); where they name none, every annotation is taken for a hand. One sample per
annotation; the box is the annotation's ``bbox`` (the keypoints' tight box where it has none). A ``bbox`` that is
not 4 finite numbers, has no positive size, misses the image or is more than 10 times its longer side is skipped
and counted (BAD_BOX): such a box once made evaluation report an EPE of 1.2e11 px. Keypoints are stored in CMU
order unless the reader is told another (``keypoint_order``) or the file name has the word ``rhd``
(keypoint_orders)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handpose.data import skip_report as R
from handpose.data.formats.base import ReadContext, Tagged
from handpose.data.formats.checks import (
    BadAnnotationError,
    annotated_box,
    annotated_side,
    box_of,
    check_keypoints_in_box,
    head_size,
    parse_keypoints,
    side_values,
)
from handpose.data.formats.coco_files import CocoFile, read_annotations
from handpose.data.formats.keypoint_orders import to_cmu
from handpose.data.sample import Sample
from handpose.data.skip_report import SkipReport

NAME = "coco"
EXPECTED = ("a COCO keypoint json (or a folder of them, also under annotations/) with 'images' "
            "and 'annotations' holding 63 'keypoints' numbers each")


def _side(cf: CocoFile, ann: dict[str, Any], category: str | None) -> tuple[bool, bool]:
    """(is_left, known) of a hand from the side it gives (``checks.annotated_side``), else its category's side;
    raises BadAnnotationError for a side field that cannot be read."""
    given = annotated_side(ann)
    if given is not None:
        key, value, is_left = given
        if is_left is None:
            raise BadAnnotationError(R.BAD_ANNOTATION, f"{key!r} is {value!r:.30}, not {side_values(key)}")
        return is_left, True
    by_category = (cf.hands or {}).get(category) if category is not None else None
    return bool(by_category), by_category is not None


def _read_one(cf: CocoFile, i: int, ann: dict[str, Any], where: str, report: SkipReport) -> Tagged:
    category = None if ann.get("category_id") is None else str(ann["category_id"])
    if cf.hands and category is not None and category not in cf.hands:
        raise BadAnnotationError(R.NOT_A_HAND, f"category_id {ann.get('category_id')!r}")
    if "keypoints" not in ann:
        raise BadAnnotationError(R.BAD_ANNOTATION, "no 'keypoints'")
    name, wh = cf.image_of(ann)
    kp = to_cmu(parse_keypoints(ann["keypoints"]), cf.keypoint_order)  # (21, 3)
    img = cf.image_path(name)
    bbox = ann.get("bbox")
    box = box_of(kp) if bbox is None else annotated_box(bbox, cf.image_size(name, wh))
    check_keypoints_in_box(kp, box)
    key = f"{name}#{ann.get('id', i)}"
    is_left, known = _side(cf, ann, category)
    return [(Sample(img, kp, is_left, box, head_size(ann.get("head_size")), key, side_known=known), cf.tag)]


def read(path: Path, ctx: ReadContext) -> Tagged:
    """One sample per annotation with 63 keypoint numbers, in every COCO json at ``path``."""
    return read_annotations(path, ctx, EXPECTED, _read_one)
