"""Image ids for ``handpose predict --coco-gt GT.json``: each input image takes the id its file has in a COCO
ground-truth json, so coco_results.json loads with pycocotools' ``COCO(GT).loadRes(...)`` and scores with COCOeval.

An input is matched to a ground-truth image by its path's tail: the longest run of trailing path parts equal to
the tail of that image's ``file_name`` (``img/0001.jpg`` matches ``/data/val/img/0001.jpg``), which must single out
one image, and no two inputs may take the same one. Inputs that match none, several, or an image another input
took are named in one error before any prediction runs. Ids are kept as the file has them (numbers or text), and the
results take the file's hand category (``coco_files.hand_categories``, or its one category); a file whose hands are
a left and a right category and no other hand category (as Roboflow and labelling tools export them) gives each
result the category of its predicted side, so that COCOeval, which matches within a category, scores right hands
against right hands.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from handpose.data.formats.coco_files import category_names, hand_categories
from handpose.inference.results import HAND_CATEGORY_ID
from handpose.regular_files import read_regular

ImageId = int | str


@dataclass(frozen=True)
class GroundTruthIds:
    """The ground-truth image id of each input image, in order, and the id of the file's hand category; ``by_side``
    {True: left category id, False: right category id} where the file's hands are categories by side."""

    ids: list[ImageId]
    category_id: ImageId
    by_side: dict[bool, ImageId] | None = None

    def category_of(self, is_left: bool) -> ImageId:
        """The category of a predicted hand of side ``is_left``."""
        return self.category_id if self.by_side is None else self.by_side[bool(is_left)]


def ids_from_ground_truth(gt_path: str | Path, inputs: list[Path]) -> GroundTruthIds:
    """The ground-truth image ids of the input images and the hand category; ValueError naming the inputs that match
    no image or several, or a file that is not a COCO json with ``images`` or whose categories name no hand."""
    gt_path = Path(gt_path)
    try:
        doc: Any = json.loads(read_regular(gt_path))
        images = [(_image_id(im["id"]), PurePosixPath(str(im["file_name"]).replace("\\", "/")).parts)
                  for im in doc["images"]]
    except FileNotFoundError:
        raise FileNotFoundError(f"--coco-gt {gt_path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"--coco-gt {gt_path}: not a COCO json with images (id, file_name): {exc}") from None
    categories = doc.get("categories") if isinstance(doc, dict) else None
    category = _hand_category(gt_path, categories)
    by_name: dict[str, list[tuple[ImageId, tuple[str, ...]]]] = {}
    for image_id, gt_parts in images:
        by_name.setdefault(gt_parts[-1] if gt_parts else "", []).append((image_id, gt_parts))
    ids: list[ImageId] = []
    problems: list[str] = []
    taken: dict[ImageId, Path] = {}
    for path in inputs:
        parts = path.absolute().parts  # as given: a link is matched by its own name, not its target's
        best, chosen = 0, []
        for image_id, gt_parts in by_name.get(path.name, []):
            common = _common_tail(parts, gt_parts)
            if common > best:
                best, chosen = common, [image_id]
            elif common == best:
                chosen.append(image_id)
        if len(chosen) != 1:
            problems.append(f"{path} ({'no image' if not chosen else f'{len(chosen)} images'} of that name)")
        elif chosen[0] in taken:
            problems.append(f"{path} (the image {taken[chosen[0]]} already took id {chosen[0]})")
        else:
            taken[chosen[0]] = path
            ids.append(chosen[0])
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise ValueError(f"--coco-gt {gt_path}: {len(problems)} input image(s) match no single image there: {shown}")
    return GroundTruthIds(ids, category, _side_categories(categories))


def _image_id(value: Any) -> ImageId:
    """An image id as the file has it: an integer (a whole float too) or text; TypeError for anything else."""
    if isinstance(value, bool):
        raise TypeError(f"image id {value!r} is a bool")
    if isinstance(value, (int, str)):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"image id {value!r} is neither a number nor text")


def _hand_category(gt_path: Path, categories: Any) -> ImageId:
    """The id of the hand category of a ground-truth file (``coco_files.hand_categories``, one of no side first),
    or its one category, or 1 when it lists none; ValueError when several are listed and none is a hand."""
    listed = [c["id"] for c in categories if isinstance(c, dict) and isinstance(c.get("id"), (int, str))
              and not isinstance(c["id"], bool)] if isinstance(categories, list) else []
    hands = hand_categories(categories if isinstance(categories, list) else None) or {}
    found = sorted((i for i in listed if str(i) in hands), key=lambda i: hands[str(i)] is not None)
    if found:
        return found[0]
    if len(listed) <= 1:
        return listed[0] if listed else HAND_CATEGORY_ID
    raise ValueError(f"--coco-gt {gt_path}: its categories ({category_names(categories)}) name no hand, so the "
                     "results would be scored against another category")


def _side_categories(categories: Any) -> dict[bool, ImageId] | None:
    """{True: left id, False: right id} of a ground truth whose hand categories are a left and a right one and
    none without a side (``coco_files.hand_categories``); None otherwise."""
    listed = [c["id"] for c in categories if isinstance(c, dict) and isinstance(c.get("id"), (int, str))
              and not isinstance(c["id"], bool)] if isinstance(categories, list) else []
    hands = hand_categories(categories if isinstance(categories, list) else None) or {}
    sides = [hands[str(i)] for i in listed if str(i) in hands]
    if None in sides or True not in sides or False not in sides:
        return None
    return {side: next(i for i in listed if hands.get(str(i)) is side) for side in (True, False)}


def _common_tail(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """How many trailing path parts ``a`` and ``b`` share."""
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n
