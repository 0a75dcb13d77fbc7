"""Toy detection scenes without a renderer: flat hand shapes (palm, four fingers, a thumb on the side that tells
left from right) pasted onto noisy backgrounds with distractor shapes, written in the layout of
``handpose synth --scenes`` (``images/NNNNNNNN.png`` and ``hands_coco.json`` with ``bbox``, ``is_left``,
``handedness``). For tests and smoke runs of the detection pipeline; real training uses rendered scenes.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

JSON_NAME = "hands_coco.json"


def hand_mask(side: int, is_left: bool, rng: np.random.Generator) -> np.ndarray:
    """(side, side) uint8 mask of a flat right hand (mirrored for a left one), turned by a multiple of 90 degrees."""
    s = max(int(side), 4)
    m = np.zeros((s, s), np.uint8)
    cv2.ellipse(m, (round(0.45 * s), round(0.68 * s)), (max(1, round(0.26 * s)), max(1, round(0.25 * s))), 0, 0,
                360, 255, -1)
    for k, top in enumerate(rng.uniform(0.04, 0.2, size=4)):
        x0 = round((0.22 + 0.13 * k) * s)
        cv2.rectangle(m, (x0, round(top * s)), (x0 + max(1, round(0.09 * s)), round(0.6 * s)), 255, -1)
    thumb = np.array([[0.62, 0.72], [0.95, 0.42], [0.99, 0.48], [0.70, 0.85]]) * s  # the right hand's thumb
    cv2.fillPoly(m, [np.round(thumb).astype(np.int32)], 255)
    if is_left:
        m = m[:, ::-1]
    return np.ascontiguousarray(np.rot90(m, int(rng.integers(4))))


def toy_scene(width: int, height: int, sides: list[int], rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """A BGR image with hands of the given longer sides (placed without overlap where possible) and their
    annotations (bbox of the hand's pixels, is_left, handedness)."""
    base = rng.integers(30, 200, size=(max(2, height // 40), max(2, width // 40), 3)).astype(np.uint8)
    img = cv2.resize(base, (width, height), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img.astype(np.int16) + rng.integers(-20, 21, size=img.shape), 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 6))):  # distractors: blue-green blocks and discs, never skin-coloured
        colour = tuple(int(c) for c in rng.integers(0, 255, size=3) * np.array([1.0, 1.0, 0.3]))
        x, y = int(rng.integers(width)), int(rng.integers(height))
        r = int(rng.integers(5, max(6, min(width, height) // 6)))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), r, colour, -1)
        else:
            cv2.rectangle(img, (x, y), (x + r, y + 2 * r), colour, -1)
    taken = np.zeros((height, width), bool)
    anns = []
    for side in sides:
        is_left = bool(rng.random() < 0.5)
        m = hand_mask(side, is_left, rng)
        h, w = m.shape
        if h > height or w > width:
            continue
        for _ in range(20):
            x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            if not taken[y : y + h, x : x + w].any():
                break
        skin = np.array([rng.uniform(90, 150), rng.uniform(130, 185), rng.uniform(190, 245)])  # BGR
        region = img[y : y + h, x : x + w]
        on = m > 0
        shade = np.linspace(0.8, 1.1, h)[:, None, None]  # light from above
        colour = np.clip(skin[None, None, :] * shade, 0, 255).astype(np.uint8)  # (h, 1, 3)
        region[on] = np.broadcast_to(colour, (h, w, 3))[on]
        taken[y : y + h, x : x + w] |= on
        ys, xs = np.nonzero(on)
        x0, y0 = x + int(xs.min()), y + int(ys.min())
        bbox = [float(x0), float(y0), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
        anns.append({"bbox": bbox, "is_left": int(is_left), "handedness": "left" if is_left else "right",
                     "category_id": 1, "iscrowd": 0, "area": bbox[2] * bbox[3]})
    return img, anns


def write_toy_scenes(folder: str | Path, count: int, seed: int = 0, width: int = 160, height: int = 120,
                     min_side: int = 12, max_side: int | None = None, max_hands: int = 3) -> Path:
    """``count`` toy scenes with 0..``max_hands`` hands of longer side ``min_side``..``max_side`` (default: the
    image height) in ``folder``; returns the json's path."""
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    top = max_side or height
    images, annotations = [], []
    for i in range(count):
        n = int(rng.integers(0, max_hands + 1))
        sides = [int(np.exp(rng.uniform(np.log(min_side), np.log(top)))) for _ in range(n)]
        img, anns = toy_scene(width, height, sides, rng)
        name = f"{i:08d}.png"
        cv2.imwrite(str(folder / "images" / name), img)
        images.append({"id": i, "file_name": name, "width": width, "height": height})
        for a in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": i, **a})
    doc = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "hand"}]}
    path = folder / JSON_NAME
    path.write_text(json.dumps(doc))
    return path
