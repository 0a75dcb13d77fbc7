"""COCO-style json files, shared by the readers of COCO keypoints and COCO-WholeBody hands: which json files,
their split from the file name, where their images live, and the image of each annotation.

Image ``file_name`` is resolved against the json's folder, its ``images/`` subfolder, the folder above, or that
folder's ``images/`` (and ``train2017/`` / ``val2017/`` in each, COCO's own layout), whichever holds the most of
them (a sample spread over the whole list).
Splits: a json whose name has the word test, val, valid or validation (``onehand10k_test``, ``val2017``) is
validation; train, training or trainval is training; anything else is divided by hash.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handpose.data import skip_report as R
from handpose.data.formats.base import ReadContext, Tagged
from handpose.data.formats.checks import BadAnnotationError
from handpose.data.formats.image_folder import best_folder
from handpose.data.formats.json_io import load_json_once
from handpose.data.image_headers import header_size
from handpose.data.skip_report import SkipReport
from handpose.regular_files import open_regular, why_not_a_file

LOG = logging.getLogger(__name__)

_VAL_WORDS = frozenset({"val", "valid", "validation", "minival", "test", "testing", "eval"})
_TRAIN_WORDS = frozenset({"train", "training", "trainval"})
_IMAGE_DIRS = ("", "images", "train2017", "val2017", "images/train2017", "images/val2017")


def name_words(stem: str) -> set[str]:
    """The words of a file name: runs of letters (``onehand10k_test`` -> onehand, k, test; ``val2017`` -> val)."""
    return set(re.findall(r"[a-z]+", stem.lower()))


def order_of_file(stem: str) -> str:
    """The keypoint order a COCO json's file name declares: ``rhd`` for the word rhd (``rhd_test``), else ``cmu``
    (see keypoint_orders)."""
    return "rhd" if "rhd" in name_words(stem) else "cmu"


def split_tag(stem: str) -> str | None:
    """"val", "train" or None from the words of a json's name. Whole words only, so ``onehand_trainval`` is
    training and ``interval`` is neither."""
    words = name_words(stem)
    if words & _VAL_WORDS:
        return "val"
    if words & _TRAIN_WORDS:
        return "train"
    return None


def coco_jsons(path: Path) -> list[Path]:
    """The json itself, or every json in the folder and its ``annotations/``."""
    if path.is_file():
        return [path]
    return sorted(path.glob("*.json")) + sorted(path.glob("annotations/*.json"))


def image_folders(jpath: Path) -> list[Path]:
    """The folders a COCO json's ``file_name`` entries are looked for in, in order."""
    jdir = jpath.parent
    return [top / sub if sub else top for top in (jdir, jdir.parent) for sub in _IMAGE_DIRS]


def image_base(jpath: Path, file_names: list[str]) -> Path:
    """The folder that holds the most images named in a COCO json (``image_folder.best_folder``; the json's folder
    when none holds any)."""
    return best_folder(image_folders(jpath), file_names) or jpath.parent


_HAND_WORD = re.compile(r"(?<![a-z])hands?(?![a-z])")


def hand_categories(categories: Any) -> dict[str, bool | None] | None:
    """The hand categories of a COCO ``categories`` list, by id as text: the side they give (True left, False right)
    or None. A category is a hand when its name or supercategory has the word hand or hands ("Hand", "hand_box",
    not "handbag"), or its name says left or right ("left", "myleft": hands by side, as Roboflow and EgoHands
    export them). None when the file lists no category, or gives ``categories`` as no list (every annotation is then
    taken for a hand)."""
    listed = categories if isinstance(categories, list) else []  # a number there was a TypeError out of the reader
    cats = [c for c in listed if isinstance(c, dict) and isinstance(c.get("id"), (int, str))
            and not isinstance(c.get("id"), bool)]
    if not cats:
        return None
    found: dict[str, bool | None] = {}
    for c in cats:
        name = str(c.get("name", "")).lower()
        words = f"{name} {c.get('supercategory', '')}".lower().replace("_", " ").replace("-", " ")
        if "left" in name or "right" in name:
            found[str(c["id"])] = "left" in name
        elif _HAND_WORD.search(words):
            found[str(c["id"])] = None
    return found


def category_names(categories: Any) -> str:
    """The first few category names of a COCO ``categories`` list, for a message."""
    return ", ".join(repr(c.get("name")) for c in (categories or [])[:6] if isinstance(c, dict))


MAX_SIDE = 1 << 20  # pixels: a larger width or height in a json is a mistake (and overflows float maths)


def image_size_of(im: dict[str, Any]) -> tuple[int, int] | None:
    """(width, height) from an ``images`` entry when both are integers from 1 to MAX_SIDE, else None."""
    w, h = im.get("width"), im.get("height")
    if isinstance(w, int) and isinstance(h, int) and not isinstance(w, bool) and not isinstance(h, bool) and (
            0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
        return w, h
    return None


@dataclass
class CocoFile:
    """One COCO json: its path, split tag, image table (id -> file name, (width, height) or None) and base."""

    path: Path
    obj: dict[str, Any]
    tag: str | None
    images: dict[Any, tuple[Any, tuple[int, int] | None]] = field(default_factory=dict)
    base: Path = Path(".")
    keypoint_order: str = "cmu"  # the order its keypoints are stored in (keypoint_orders)
    _exists: dict[str, bool] = field(default_factory=dict)
    _sizes: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    _by_text: dict[str, Any] | None = None
    repeated: set[Any] = field(default_factory=set)  # ids that more than one ``images`` entry has
    hands: dict[str, bool | None] | None = None  # its hand categories (``hand_categories``)

    def image_key(self, ann: dict[str, Any]) -> Any:
        """The ``images`` id an annotation's ``image_id`` names: itself, or the id it spells as text (``"7"`` for
        7 and the other way round: files written by two tools often disagree); raises BadAnnotationError."""
        image_id = ann.get("image_id")
        try:
            if image_id in self.images:
                return image_id
        except TypeError:
            raise BadAnnotationError(R.BAD_ANNOTATION, f"'image_id' is a {type(image_id).__name__}") from None
        if self._by_text is None:
            self._by_text = {}
            for key in self.images:
                self._by_text.setdefault(str(key), key)
        return self._by_text.get(str(image_id), image_id)

    def image_of(self, ann: dict[str, Any]) -> tuple[str, tuple[int, int] | None]:
        """(file name, (width, height) or None) of an annotation's image; raises BadAnnotationError."""
        key = self.image_key(ann)
        if key in self.repeated:
            raise BadAnnotationError(R.BAD_ANNOTATION, f"image_id {key!r} is the id of several 'images' entries")
        name, wh = self.images.get(key, (None, None))
        if not isinstance(name, str):
            raise BadAnnotationError(R.BAD_ANNOTATION, f"image_id {ann.get('image_id')!r} not in 'images'")
        return name, wh

    def image_size(self, name: str, wh: tuple[int, int] | None) -> tuple[int, int] | None:
        """(width, height) of an image: from the json when it has them, else from the file's header (None when
        neither tells)."""
        return wh if wh is not None else self.file_size(name)

    def file_size(self, name: str) -> tuple[int, int] | None:
        """(width, height) from the image file's header, as stored (before any EXIF turn); None when the file or
        its header cannot be read."""
        if name not in self._sizes:
            try:
                with open_regular(self.base / name) as f:
                    head = header_size(f.read(65536))
            except OSError:
                head = None
            self._sizes[name] = (head[1], head[2]) if head and head[1] > 0 and head[2] > 0 else None
        return self._sizes[name]

    def image_path(self, name: str) -> Path:
        """The image file of a file name; BadAnnotationError(MISSING_IMAGE) when it is not there."""
        img = self.base / name
        if name not in self._exists:
            self._exists[name] = img.is_file()
        if not self._exists[name]:
            why = why_not_a_file(img)  # a FIFO or a link to nothing is there, but is no image file
            raise BadAnnotationError(R.MISSING_IMAGE, str(img) if why in ("", "does not exist") else f"{img} {why}")
        return img


def open_coco_files(path: Path, ctx: ReadContext) -> Iterator[CocoFile]:
    """Each readable COCO json at ``path`` with its image table; unreadable ones are counted in the report (or,
    when they are one of several json files in a folder and not COCO at all, ignored)."""
    for jpath in coco_jsons(path):
        try:
            obj = load_json_once(jpath, ctx.parsed)
        except BadAnnotationError as bad:
            ctx.report.add(bad.reason, jpath, bad.detail)
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("images"), list) or not isinstance(
            obj.get("annotations"), list
        ):
            if jpath != path:  # another json in a folder of COCO files
                LOG.debug("%s: not a COCO keypoint json, ignored", jpath)
            else:
                ctx.report.add(R.BAD_ANNOTATION, jpath, "no 'images' / 'annotations' lists")
            continue
        cf = CocoFile(jpath, obj, split_tag(jpath.stem))
        cf.keypoint_order = ctx.keypoint_order or order_of_file(jpath.stem)
        cf.hands = hand_categories(obj.get("categories"))
        for j, im in enumerate(obj["images"]):
            if isinstance(im, dict):
                try:
                    earlier = cf.images.get(im.get("id"))
                    if earlier is not None and earlier[0] != im.get("file_name"):  # two images, one id: its
                        cf.repeated.add(im.get("id"))  # annotations belong to neither (a copy of one entry is fine)
                    cf.images[im.get("id")] = (im.get("file_name"), image_size_of(im))
                except TypeError:  # a list or dict as id cannot be looked up
                    ctx.report.add(R.BAD_ANNOTATION, f"{jpath}#images[{j}]", f"'id' is a {type(im.get('id')).__name__}")
        cf.base = image_base(jpath, [n for n, _ in cf.images.values() if isinstance(n, str)])
        yield cf


AnnotationReader = Callable[[CocoFile, int, dict[str, Any], str, SkipReport], Tagged]


def read_annotations(path: Path, ctx: ReadContext, expected: str, read_one: AnnotationReader) -> Tagged:
    """Samples of every annotation of every COCO json at ``path``: ``read_one(file, index, annotation, where,
    report)`` returns its samples (counting what it skips of them in the report) or raises BadAnnotationError,
    which is counted. ValueError when there is no json at all."""
    if not coco_jsons(path):
        raise ValueError(f"{path}: no COCO keypoint json here; expected {expected}")
    out: Tagged = []
    for cf in open_coco_files(path, ctx):
        for i, ann in enumerate(cf.obj["annotations"]):
            where = f"{cf.path}#annotations[{i}]"
            try:
                if not isinstance(ann, dict):
                    raise BadAnnotationError(R.BAD_ANNOTATION, "not an object")
                out += read_one(cf, i, ann, where, ctx.report)
            except BadAnnotationError as bad:
                ctx.report.add(bad.reason, where, bad.detail)
    return out
