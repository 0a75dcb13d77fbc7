"""Image ids for ``handpose predict --coco-gt GT.json``: each input image takes the id its file has in a COCO
ground-truth json, so coco_results.json loads with pycocotools' ``COCO(GT).loadRes(...)`` and scores with COCOeval.

An input is matched to a ground-truth image by its path's tail: the longest run of trailing path parts equal to
the tail of that image's ``file_name`` (``img/0001.jpg`` matches ``/data/val/img/0001.jpg``), which must single out
one image, and no two inputs may take the same one. Inputs that match none, several, or an image another input
took are named in one error before any prediction runs.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any


def ids_from_ground_truth(gt_path: str | Path, inputs: list[Path]) -> list[int]:
    """The ground-truth image id of each input image, in order; ValueError naming the inputs that match no image or
    several, or a file that is not a COCO json with ``images``."""
    gt_path = Path(gt_path)
    try:
        doc: Any = json.loads(gt_path.read_text())
        images = [(int(im["id"]), PurePosixPath(str(im["file_name"]).replace("\\", "/")).parts)
                  for im in doc["images"]]
    except FileNotFoundError:
        raise FileNotFoundError(f"--coco-gt {gt_path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"--coco-gt {gt_path}: not a COCO json with images (id, file_name): {exc}") from None
    by_name: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for image_id, gt_parts in images:
        by_name.setdefault(gt_parts[-1] if gt_parts else "", []).append((image_id, gt_parts))
    ids, problems = [], []
    taken: dict[int, Path] = {}
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
    return ids


def _common_tail(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """How many trailing path parts ``a`` and ``b`` share."""
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n
