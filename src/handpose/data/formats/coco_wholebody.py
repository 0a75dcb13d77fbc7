"""``coco_wholebody``: the hands of COCO-WholeBody (``coco_wholebody_{train,val}_v1.0.json`` beside COCO's
``train2017/`` / ``val2017/``). Each person annotation holds, besides the body's 17 ``keypoints``,
``lefthand_kpts`` / ``righthand_kpts`` (21 x [x, y, v], the CMU / OpenPose order), ``lefthand_box`` /
``righthand_box`` ([x, y, w, h]) and ``lefthand_valid`` / ``righthand_valid``. One sample per valid hand with
``is_left`` from its side and the hand box as its box; a hand marked invalid is skipped and counted
(INVALID_HAND), as is a valid hand whose points or box do not pass the shared checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handpose.data import skip_report as R
from handpose.data.formats.base import ReadContext, Tagged
from handpose.data.formats.checks import BadAnnotationError, annotated_box, check_keypoints_in_box, parse_keypoints
from handpose.data.formats.coco_files import CocoFile, read_annotations
from handpose.data.sample import Sample
from handpose.data.skip_report import SkipReport

NAME = "coco_wholebody"
EXPECTED = ("a COCO-WholeBody json (or a folder of them, also under annotations/) whose annotations hold "
            "'lefthand_kpts' / 'righthand_kpts' (63 numbers), 'lefthand_box' / 'righthand_box' and "
            "'lefthand_valid' / 'righthand_valid'")
SIDES = ("left", "right")


def is_wholebody_annotation(ann: Any) -> bool:
    """An annotation with COCO-WholeBody's hand keys."""
    return isinstance(ann, dict) and any(f"{side}hand_kpts" in ann for side in SIDES)


def _hand(cf: CocoFile, ann: dict[str, Any], side: str, name: str, wh: tuple[int, int] | None, key: str) -> Sample:
    """The sample of one valid hand; raises BadAnnotationError."""
    if f"{side}hand_kpts" not in ann or f"{side}hand_box" not in ann:
        raise BadAnnotationError(R.BAD_ANNOTATION, f"valid but no '{side}hand_kpts' / '{side}hand_box'")
    kp = parse_keypoints(ann[f"{side}hand_kpts"])  # (21, 3), already CMU order
    img = cf.image_path(name)
    box = annotated_box(ann[f"{side}hand_box"], cf.image_size(name, wh))
    check_keypoints_in_box(kp, box)
    return Sample(img, kp, side == "left", box, None, key)


def _read_one(cf: CocoFile, i: int, ann: dict[str, Any], where: str, report: SkipReport) -> Tagged:
    if not is_wholebody_annotation(ann):
        raise BadAnnotationError(R.BAD_ANNOTATION, "no 'lefthand_kpts' / 'righthand_kpts'")
    name, wh = cf.image_of(ann)
    out: Tagged = []
    for side in SIDES:
        hand_where = f"{where}.{side}hand"
        if not ann.get(f"{side}hand_valid"):
            report.add(R.INVALID_HAND, hand_where)
            continue
        try:
            out.append((_hand(cf, ann, side, name, wh, f"{name}#{ann.get('id', i)}.{side}"), cf.tag))
        except BadAnnotationError as bad:
            report.add(bad.reason, hand_where, bad.detail)
    return out


def read(path: Path, ctx: ReadContext) -> Tagged:
    """One sample per valid hand of every person annotation in every COCO-WholeBody json at ``path``."""
    return read_annotations(path, ctx, EXPECTED, _read_one)
