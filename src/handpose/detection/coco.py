"""COCO json of hand boxes -> :class:`DetectionImage` records: each image with all its hands, images without hands
kept (they teach the detector what is not a hand).

Any COCO json with ``images`` and ``annotations`` will do (``handpose synth --scenes`` writes ``hands_coco.json``;
OneHand10K-style keypoint files too): a hand is an annotation's ``bbox`` ``[x, y, w, h]``, or the tight box of its
visible ``keypoints`` when it has no bbox. Handedness comes from ``is_left`` (0/1) or ``handedness``
("left"/"right"); where neither is given it is unknown and not trained. Images are found as the keypoint readers
find them (``data/formats/coco_files``). What cannot be used is counted in the ``SkipReport`` and left out: a box
that is not 4 finite numbers, has no positive size or misses the image (BAD_BOX, the annotation alone), an
annotation that is not an object or names no listed image (BAD_ANNOTATION), a missing image file (MISSING_IMAGE,
the whole image). ``iscrowd`` annotations are left out silently. Images are split into training and held-out sides
by the json's name (``val``, ``test``, ``train`` words) or else by a hash of the file name (``data/split``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handpose.data import skip_report as R
from handpose.data.formats.base import ReadContext
from handpose.data.formats.checks import BadAnnotationError, annotated_box, box_of, parse_keypoints
from handpose.data.formats.coco_files import coco_jsons, open_coco_files
from handpose.data.skip_report import SkipReport
from handpose.data.split import is_val

LOG = logging.getLogger(__name__)

EXPECTED = "a COCO json (or a folder of them) with 'images' and 'annotations' holding a 'bbox' per hand"


@dataclass
class DetectionImage:
    """One image and its hands: ``boxes`` (N, 4) float32 xywh original px, ``is_left`` (N,) bool, ``left_known``
    (N,) bool; ``size`` (width, height) when the json or the header tells; ``split`` "train", "val" or None."""

    path: Path
    boxes: np.ndarray
    is_left: np.ndarray
    left_known: np.ndarray
    size: tuple[int, int] | None = None
    key: str = ""
    split: str | None = None

    @property
    def num_hands(self) -> int:
        return int(self.boxes.shape[0])


def read_detection_images(path: str | Path, report: SkipReport | None = None) -> list[DetectionImage]:
    """Every image of every COCO json at ``path`` with its hand boxes; ValueError naming the path when there is no
    json or no usable image at all."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"detection data not found: {path}")
    if not coco_jsons(path):
        raise ValueError(f"{path}: no COCO json here; expected {EXPECTED}")
    report = report if report is not None else SkipReport()
    out: list[DetectionImage] = []
    for cf in open_coco_files(path, ReadContext(report=report)):
        hands: dict[Any, list[tuple[np.ndarray, bool, bool]]] = {}
        tainted: set[Any] = set()  # images with an unusable hand: left out whole (the hand would count as nothing)
        for i, ann in enumerate(cf.obj["annotations"]):
            where = f"{cf.path}#annotations[{i}]"
            try:
                if not isinstance(ann, dict):
                    raise BadAnnotationError(R.BAD_ANNOTATION, "not an object")
                if ann.get("iscrowd"):
                    continue
                name, wh = cf.image_of(ann)
                hands.setdefault(ann.get("image_id"), []).append(_hand(ann, cf.image_size(name, wh)))
            except BadAnnotationError as bad:
                report.add(bad.reason, where, bad.detail)
                if isinstance(ann, dict):
                    try:
                        tainted.add(ann.get("image_id"))
                    except TypeError:  # an id that is no key (a list): it names no image to leave out
                        pass
        for image_id, (name, wh) in cf.images.items():
            if not isinstance(name, str):
                report.add(R.BAD_ANNOTATION, f"{cf.path}#images[id={image_id!r}]", "no 'file_name'")
                continue
            if image_id in tainted:  # its unusable hand would be background to training and a false hit to eval
                report.add(R.BAD_ANNOTATION, f"{cf.path}#images[id={image_id!r}]",
                           "image left out: one of its hands is unusable (above)")
                continue
            try:
                img = cf.image_path(name)
            except BadAnnotationError as bad:
                report.add(bad.reason, bad.detail or name)
                continue
            found = hands.get(image_id, [])
            boxes = np.array([h[0] for h in found], np.float32).reshape(-1, 4)
            out.append(DetectionImage(img, boxes, np.array([h[1] for h in found], bool),
                                      np.array([h[2] for h in found], bool), cf.image_size(name, wh), name, cf.tag))
    if not out:
        raise ValueError(f"{path}: no usable image; expected {EXPECTED}\n" + report.summary("annotations"))
    if _count(report):
        report.log("detection annotations", LOG)
    return out


def split_images(images: list[DetectionImage], val_fraction: float) -> tuple[list[DetectionImage],
                                                                            list[DetectionImage]]:
    """(train, held-out): by each json's split word, else by a hash of the image's file name."""
    train: list[DetectionImage] = []
    val: list[DetectionImage] = []
    for im in images:
        side = im.split or ("val" if is_val(im.key, val_fraction) else "train")
        (val if side == "val" else train).append(im)
    return train, val


def _hand(ann: dict[str, Any], image_wh: tuple[int, int] | None) -> tuple[np.ndarray, bool, bool]:
    """(box (4,), is_left, handedness known) of one annotation; raises BadAnnotationError."""
    if ann.get("bbox") is not None:
        box = annotated_box(ann["bbox"], image_wh)
    elif "keypoints" in ann:
        box = box_of(parse_keypoints(ann["keypoints"]))
        if not (box[2] > 0 and box[3] > 0):
            raise BadAnnotationError(R.BAD_BOX, "no 'bbox' and the visible keypoints span no area")
    else:
        raise BadAnnotationError(R.BAD_ANNOTATION, "neither 'bbox' nor 'keypoints'")
    if "is_left" in ann and isinstance(ann["is_left"], (bool, int, float)):
        return box, bool(ann["is_left"]), True
    side = ann.get("handedness")
    if side in ("left", "right"):
        return box, side == "left", True
    return box, False, False


def _count(report: SkipReport) -> int:
    """Skipped items in a report (``SkipReport.total`` is a method on some branches, a property on others)."""
    return int(sum(report.counts.values()))
