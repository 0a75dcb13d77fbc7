"""COCO json of hand boxes -> :class:`DetectionImage` records: each image with all its hands, images without hands
kept (they teach the detector what is not a hand).

Any COCO json with ``images`` and ``annotations`` will do (``handpose synth --scenes`` writes ``hands_coco.json``;
OneHand10K-style keypoint files too): a hand is an annotation's ``bbox`` ``[x, y, w, h]``, or the tight box of its
visible ``keypoints`` when it has no bbox. COCO-WholeBody person annotations give their valid ``lefthand_box`` /
``righthand_box`` with that side (the person's ``bbox`` is not a hand). Where the json's ``categories`` name hand
categories (``coco_files.hand_categories``: the word hand, or left or right, in a name; a side's category gives
that side), annotations of the others are left out and counted (NOT_A_HAND; one without a ``category_id`` is taken
for a hand); a json whose categories name no hand (COCO's ``instances``, ``person_keypoints``) is left out with a
warning, unless it holds COCO-WholeBody hands. Handedness comes from ``is_left`` (0/1, true/false) or
``handedness`` ("left"/"right", any case, or "l"/"r"); where neither is given it is unknown and not trained, and a
side that cannot be read is said. An ``image_id`` may spell its image's id as text or the other way round.

What cannot be used is counted in the ``SkipReport`` and left out: a box that is not 4 finite numbers, has no
positive size or misses the image (BAD_BOX) with its whole image (its hand would be background to training and its
detection a false one to evaluation), an annotation that is not an object or names no listed image (BAD_ANNOTATION),
a missing image file (MISSING_IMAGE) and an image whose file is not the size the json gives (WRONG_SIZE: its boxes
were drawn on another picture; the headers of a spread sample of images are read, and of all of them once one
differs), the last two the whole image. ``iscrowd`` annotations are no hands: those of a hand category (or none)
become the image's crowd regions (``DetectionImage.crowd``), which training leaves out and evaluation ignores as
COCOeval does (``detection/metrics``); the others, and a crowd without a usable box, are left out silently. A file
listed under several image ids of one json is one image with all their hands, and so are files of identical bytes
(``detection/identical_files``: CMU Panoptic's ``_l`` / ``_r`` copies). Boxes that run past the image edge in
numbers point to ``[x0, y0, x1, y1]`` boxes, which a warning names; a hand box running past the edge of an image
whose size the json gives is cut at it (:func:`cut_at_edge`), as the detector's boxes are. Images are split into
training and held-out sides by the json's name (``val``, ``test``, ``train`` words) where some json is a held-out
part, else by a hash of the file name (``data/split``), as the keypoint task splits (:func:`split_images`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handpose.data import skip_report as R
from handpose.data.formats.base import ReadContext
from handpose.data.formats.checks import (
    BadAnnotationError,
    annotated_box,
    annotated_side,
    box_of,
    parse_keypoints,
)
from handpose.data.formats.coco_files import (
    CocoFile,
    category_names,
    coco_jsons,
    hand_categories,
    image_folders,
    open_coco_files,
)
from handpose.data.formats.coco_wholebody import SIDES, is_wholebody_annotation
from handpose.data.formats.json_io import load_json
from handpose.data.skip_report import SkipReport
from handpose.data.split import is_val
from handpose.detection.identical_files import picture_keys
from handpose.words import counted

LOG = logging.getLogger(__name__)

EXPECTED = "a COCO json (or a folder of them) with 'images' and 'annotations' holding a 'bbox' per hand"


@dataclass
class DetectionImage:
    """One image and its hands: ``boxes`` (N, 4) float32 xywh original px, ``is_left`` (N,) bool, ``left_known``
    (N,) bool; ``size`` (width, height) when the json or the header tells; ``split`` "train", "val" or None;
    ``crowd`` (K, 4) float32 xywh crowd regions (``iscrowd`` annotations), for evaluation only; ``key`` its json's
    ``file_name`` and ``image_id`` its ``id`` there (the first one's, for a file listed under several ids)."""

    path: Path
    boxes: np.ndarray
    is_left: np.ndarray
    left_known: np.ndarray
    size: tuple[int, int] | None = None
    key: str = ""
    split: str | None = None
    crowd: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    image_id: Any = None

    @property
    def num_hands(self) -> int:
        return int(self.boxes.shape[0])


def read_detection_images(path: str | Path, report: SkipReport | None = None) -> list[DetectionImage]:
    """Every image of every COCO json at ``path`` with its hand boxes; ValueError naming the path when there is no
    json, none readable as COCO (said as the cause), no image listed, no usable image or no hand at all."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"detection data not found: {path}")
    jsons = coco_jsons(path)
    if not jsons:
        deeper = sorted(path.glob("*/*.json"))[:3] + sorted(path.glob("*/*/*.json"))[:3] if path.is_dir() else []
        hint = (f"; the folders below hold some ({', '.join(str(j.relative_to(path)) for j in deeper[:3])}), but a "
                "folder of several datasets is for the keypoint task: give the detector one of those jsons, or a "
                "folder of them" if deeper else "")
        raise ValueError(f"{path}: no COCO json here; expected {EXPECTED}{hint}")
    report = report if report is not None else SkipReport()
    out: list[DetectionImage] = []
    opened, listed = 0, 0
    for cf in open_coco_files(path, ReadContext(report=report)):
        opened, listed = opened + 1, listed + len(cf.images)
        out += _images_of(cf, report)
    if not opened:  # no json could be read as COCO: that is the cause, not where images were looked for
        raise ValueError(f"{path}: no readable COCO json; expected {EXPECTED}\n" + report.summary("json files")
                         + _results_hint(jsons))
    if not out and not listed:
        raise ValueError(f"{path}: no image listed ('images' is empty); expected {EXPECTED}")
    if not out:
        looked = ", ".join(str(f) for f in image_folders(jsons[0]))
        raise ValueError(f"{path}: no usable image; expected {EXPECTED} (image file names are looked for in "
                         f"{looked})\n" + report.summary("annotations") + _results_hint(jsons))
    if not sum(im.num_hands for im in out):
        crowds = sum(int(im.crowd.shape[0]) for im in out)
        raise ValueError(f"{path}: {counted(len(out), 'image')} but not one hand box to train or score a detector on"
                         + (f" ({crowds} iscrowd regions, which are not hands to train on)" if crowds else "")
                         + (f";\n{report.summary('annotations')}" if report.total else ""))
    if _count(report):
        report.log("detection annotations", LOG)
    return out


def _images_of(cf: CocoFile, report: SkipReport) -> list[DetectionImage]:
    """The images of one COCO json with their hands (what cannot be used counted in ``report``)."""
    hand_ids = hand_categories(cf.obj.get("categories"))
    annotations = cf.obj["annotations"]
    if hand_ids == {} and not any(is_wholebody_annotation(a) for a in annotations):
        LOG.warning("%s: left out: its categories (%s) name no hand (a category with the word hand, or left or right, "
                    "in its name)", cf.path, category_names(cf.obj.get("categories")))
        return []
    hands: dict[Any, list[tuple[np.ndarray, bool, bool]]] = {}
    tainted: set[Any] = set()  # images with an unusable hand: left out whole (the hand would count as nothing)
    crowds: dict[Any, list[np.ndarray]] = {}
    sides = _Sides()
    past_edge, boxes_seen = 0, 0
    for i, ann in enumerate(annotations):
        where = f"{cf.path}#annotations[{i}]"
        try:
            if not isinstance(ann, dict):
                raise BadAnnotationError(R.BAD_ANNOTATION, "not an object")
            if ann.get("iscrowd"):
                _crowd_region(cf, ann, hand_ids, crowds)
                continue
            if is_wholebody_annotation(ann):
                key = cf.image_key(ann)
                name, wh = cf.image_of(ann)
                for side in SIDES:
                    if not ann.get(f"{side}hand_valid"):
                        report.add(R.INVALID_HAND, f"{where}.{side}hand")
                        continue
                    try:
                        box = annotated_box(ann.get(f"{side}hand_box"), cf.image_size(name, wh))
                    except BadAnnotationError as bad:
                        report.add(bad.reason, f"{where}.{side}hand", bad.detail)
                        tainted.add(key)
                        continue
                    hands.setdefault(key, []).append((cut_at_edge(box, wh), side == "left", True))
                continue
            category = None if ann.get("category_id") is None else str(ann["category_id"])
            if hand_ids is not None and category is not None and category not in hand_ids:
                report.add(R.NOT_A_HAND, where, f"category_id {ann.get('category_id')!r}")
                continue
            key = cf.image_key(ann)
            name, wh = cf.image_of(ann)
            size = cf.image_size(name, wh)
            box, is_left, known = _hand(ann, size, sides)
            if not known and hand_ids and category is not None and hand_ids.get(category) is not None:
                is_left, known = bool(hand_ids[category]), True  # a category of one side ("left", "myright")
            boxes_seen += 1
            if size is not None and (box[0] + box[2] > size[0] + 1 or box[1] + box[3] > size[1] + 1):
                past_edge += 1
            hands.setdefault(key, []).append((cut_at_edge(box, wh), is_left, known))
        except BadAnnotationError as bad:
            report.add(bad.reason, where, bad.detail)
            if isinstance(ann, dict):
                try:
                    tainted.add(cf.image_key(ann))
                except (BadAnnotationError, TypeError):  # an id that is no key (a list): it names no image
                    pass
    sides.say(cf.path)
    if past_edge >= 3 and past_edge > 0.3 * boxes_seen:
        LOG.warning("%s: %d of %d hand boxes run past the image's right or bottom edge; are they [x0, y0, x1, y1]? "
                    "COCO's bbox is [x, y, width, height]", cf.path, past_edge, boxes_seen)
    out = []
    checked = _sizes_to_check(cf)
    for image_id, (name, wh) in cf.images.items():
        if not isinstance(name, str) or image_id in cf.repeated:
            report.add(R.BAD_ANNOTATION, f"{cf.path}#images[id={image_id!r}]",
                       "no 'file_name'" if not isinstance(name, str) else "an id several images have")
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
        stored = cf.file_size(name) if image_id in checked else None
        if wh is not None and stored is not None and wh not in (stored, stored[::-1]):  # EXIF turns may swap
            report.add(R.WRONG_SIZE, img, f"the json says {wh[0]} x {wh[1]}, the file is {stored[0]} x {stored[1]}")
            continue
        found = hands.get(image_id, [])
        boxes = np.array([h[0] for h in found], np.float32).reshape(-1, 4)
        out.append(DetectionImage(img, boxes, np.array([h[1] for h in found], bool),
                                  np.array([h[2] for h in found], bool), cf.image_size(name, wh), name, cf.tag,
                                  np.array(crowds.get(image_id, []), np.float32).reshape(-1, 4), image_id))
    return _one_per_file(out)


def cut_at_edge(box: np.ndarray, wh: tuple[int, int] | None) -> np.ndarray:
    """(4,) float32 xywh ``box`` cut at the edges of an image of the json's size ``wh`` (as it is where ``wh`` is
    None: a size read from the file's header may be before an EXIF turn). The detector's boxes end at the image's
    edge, so a hand box running past it could not be matched by the best of them, and one half outside not at all.
    The box overlaps the image (``annotated_box`` checked), so what is left has a positive size."""
    if wh is None:
        return box
    x0, y0 = max(float(box[0]), 0.0), max(float(box[1]), 0.0)
    x1, y1 = min(float(box[0] + box[2]), float(wh[0])), min(float(box[1] + box[3]), float(wh[1]))
    return np.array([x0, y0, x1 - x0, y1 - y0], np.float32)


def _crowd_region(cf: CocoFile, ann: dict[str, Any], hand_ids: dict[str, bool | None] | None,
                  crowds: dict[Any, list[np.ndarray]]) -> None:
    """Add an ``iscrowd`` annotation of a hand category (or of none) to its image's crowd regions in ``crowds``; a
    crowd of another category (a COCO-WholeBody person crowd), or one without a usable box or image, is left out."""
    category = None if ann.get("category_id") is None else str(ann["category_id"])
    if is_wholebody_annotation(ann) or (hand_ids is not None and category is not None and category not in hand_ids):
        return
    try:
        key = cf.image_key(ann)
        name, wh = cf.image_of(ann)
        crowds.setdefault(key, []).append(annotated_box(ann.get("bbox"), cf.image_size(name, wh)))
    except BadAnnotationError:
        return


SIZE_SAMPLE = 200  # images whose file header is read to check the json's sizes, before all of them are


def _sizes_to_check(cf: CocoFile) -> set[Any]:
    """The ids of the images whose file size is checked against the json's: a spread sample of ``SIZE_SAMPLE``
    (a header read each), and every one when the sample finds a mismatch (a dataset resized after labelling is
    resized throughout), so a large dataset is not read twice to start training."""
    sized = [(i, name, wh) for i, (name, wh) in cf.images.items() if isinstance(name, str) and wh is not None]
    step = max(1, len(sized) // SIZE_SAMPLE)
    sample = sized[::step]
    for _, name, wh in sample:
        stored = cf.file_size(name)
        if stored is not None and wh not in (stored, stored[::-1]):
            return {i for i, _, _ in sized}
    return {i for i, _, _ in sample}


def _one_per_file(images: list[DetectionImage]) -> list[DetectionImage]:
    """The images with those that name the same file, or a file of identical bytes (CMU Panoptic's ``*_l.jpg`` /
    ``*_r.jpg`` copies of one frame, one hand labelled on each), merged into the first (their hands together, a box
    listed twice once): a hand of one entry would otherwise be background, or a false hit, in the other."""
    by_picture: dict[str, DetectionImage] = {}
    merged = copies = 0
    for im, key in zip(images, picture_keys([im.path for im in images])):
        first = by_picture.get(key)
        if first is None:
            by_picture[key] = im
            continue
        merged += 1
        copies += first.path != im.path
        for j in range(im.num_hands):
            listed = first.num_hands > 0 and bool((np.abs(first.boxes - im.boxes[j]).max(axis=1) < 0.5).any())
            if not listed:  # (1, 4) box, (1,) side and (1,) known appended
                first.boxes = np.concatenate([first.boxes, im.boxes[j: j + 1]])
                first.is_left = np.concatenate([first.is_left, im.is_left[j: j + 1]])
                first.left_known = np.concatenate([first.left_known, im.left_known[j: j + 1]])
        first.crowd = np.concatenate([first.crowd, im.crowd])
    if merged - copies:
        LOG.warning("%d image entries name a file listed before; each file is one image with the hands of all its "
                    "entries", merged - copies)
    if copies:
        LOG.info("%s the same bytes as a file listed before (as CMU Panoptic's _l / _r copies of a frame); each "
                 "picture is one image with the hands of all its files", counted(copies, "image file") + (
                     " holds" if copies == 1 else " hold"))
    return list(by_picture.values())


def _results_hint(jsons: list[Path]) -> str:
    """A hint when a json is a list (COCO results, e.g. ``handpose predict``'s ``coco_results.json``), not a
    dataset."""
    for j in jsons:
        try:
            if isinstance(load_json(j), list):
                return (f"\n{j} is a list of detections (COCO results), not a dataset: put them under 'annotations' "
                        "beside an 'images' list (predict writes one as coco_images.json)")
        except (OSError, ValueError, BadAnnotationError):
            continue
    return ""


def split_images(images: list[DetectionImage], val_fraction: float,
                 rule: int = 2) -> tuple[list[DetectionImage], list[DetectionImage]]:
    """(train, held-out): by each json's split word where some json holds a held-out part (val, test), the other
    images by a hash of their file name; where none does, every image by the hash, a ``*_train.json``'s too (as the
    keypoint task splits, ``data.formats.load_splits``: a lone training json validated on nothing). ``rule`` 1: the
    rule before 2026-12-07, every json's split word alone (a run started then resumes on it, ``TrainConfig``)."""
    own_val = rule < 2 or any(im.split == "val" for im in images)
    train: list[DetectionImage] = []
    val: list[DetectionImage] = []
    for im in images:
        side = (im.split if own_val else None) or ("val" if is_val(im.key, val_fraction) else "train")
        (val if side == "val" else train).append(im)
    return train, val


class _Sides:
    """Sides given in a form that cannot be read: counted per json and said once."""

    def __init__(self) -> None:
        self.unread = 0
        self.example: object = None

    def add(self, value: object) -> None:
        self.unread += 1
        self.example = value if self.example is None else self.example

    def say(self, where: Path) -> None:
        if self.unread:
            LOG.warning("%s: %s %s a side that cannot be read (e.g. %r); %s without a side", where,
                        counted(self.unread, "hand"), "gives" if self.unread == 1 else "give", self.example,
                        "it trains and scores" if self.unread == 1 else "they train and score")


def _hand(ann: dict[str, Any], image_wh: tuple[int, int] | None,
          sides: _Sides) -> tuple[np.ndarray, bool, bool]:
    """(box (4,), is_left, handedness known) of one annotation; raises BadAnnotationError."""
    if ann.get("bbox") is not None:
        box = annotated_box(ann["bbox"], image_wh)
    elif "keypoints" in ann:
        box = box_of(parse_keypoints(ann["keypoints"]))
        if not (box[2] > 0 and box[3] > 0):
            raise BadAnnotationError(R.BAD_BOX, "no 'bbox' and the visible keypoints span no area")
    else:
        raise BadAnnotationError(R.BAD_ANNOTATION, "neither 'bbox' nor 'keypoints'")
    return (box, *_side(ann, sides))


def _side(ann: dict[str, Any], sides: _Sides) -> tuple[bool, bool]:
    """(is_left, known) from the side the annotation gives (``checks.annotated_side``: ``is_left``, else
    ``handedness``, also under ``attributes``); a value that cannot be read is counted in ``sides``."""
    given = annotated_side(ann)
    if given is None:
        return False, False
    if given[2] is None:
        sides.add(given[1])
        return False, False
    return given[2], True


def _count(report: SkipReport) -> int:
    """Skipped items in a report (``SkipReport.total`` is a method on some branches, a property on others)."""
    return int(sum(report.counts.values()))
