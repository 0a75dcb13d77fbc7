"""Helpers for the data tests: tiny datasets on disk in every supported layout, with real JPEG files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def hand_keypoints(cx: float, cy: float, size: float, seed: int = 0) -> np.ndarray:
    """(21, 3) plausible-looking visible keypoints around (cx, cy) spanning about ``size`` pixels."""
    rng = np.random.default_rng(seed)
    kp = np.ones((21, 3), dtype=np.float32)
    kp[:, 0] = cx + rng.uniform(-size / 2, size / 2, 21)
    kp[:, 1] = cy + rng.uniform(-size / 2, size / 2, 21)
    return kp


def write_image(path: Path, kp: np.ndarray | None, w: int = 160, h: int = 120, seed: int = 0) -> Path:
    """A textured BGR image with a bright dot at every visible keypoint, written with cv2.imwrite."""
    rng = np.random.default_rng(seed)
    img = (rng.integers(0, 60, size=(h, w, 3))).astype(np.uint8)
    if kp is not None:
        for x, y, v in kp:
            if v > 0 and np.isfinite(x) and np.isfinite(y):
                cv2.circle(img, (int(round(x)), int(round(y))), 1, (255, 255, 255), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return path


def write_hand(folder: Path, stem: str, kp: np.ndarray, is_left: bool = False, head_size: float | None = None,
               image: bool = True, **extra: object) -> None:
    """A CMU per-hand pair: stem.jpg + stem.json (hand_pts, is_left, optional head_size, extra keys)."""
    folder.mkdir(parents=True, exist_ok=True)
    obj: dict[str, object] = {"hand_pts": np.asarray(kp).tolist(), "is_left": int(is_left)}
    if head_size is not None:
        obj["head_size"] = head_size
        obj["hand_box_center"] = [float(kp[:, 0].mean()), float(kp[:, 1].mean())]
    obj.update(extra)
    (folder / f"{stem}.json").write_text(json.dumps(obj))
    if image:
        write_image(folder / f"{stem}.jpg", kp)


def write_synth(root: Path, folders: dict[str, int]) -> Path:
    """hand_labels_synth layout: root/synthN/NNNNNNNN.{jpg,json}; ``folders`` maps folder name -> count."""
    for name, count in folders.items():
        for i in range(count):
            write_hand(root / name, f"{i:08d}", hand_keypoints(80, 60, 40, seed=i), is_left=bool(i % 2))
    return root


def write_panopticdb(root: Path, count: int) -> Path:
    """hand143_panopticdb layout: root/hands_v143_14817.json + root/imgs/."""
    entries = []
    for i in range(count):
        kp = hand_keypoints(80, 60, 40, seed=100 + i)
        write_image(root / "imgs" / f"{i:08d}.jpg", kp)
        entries.append({"img_paths": f"imgs/{i:08d}.jpg", "joint_self": kp.tolist(), "objpos": [80, 60],
                        "scale_provided": 1.0})
    (root / "hands_v143_14817.json").write_text(json.dumps({"root": entries}))
    return root


def write_coco(json_path: Path, image_dir: Path, count: int, prefix: str = "img") -> Path:
    """A COCO keypoint json with ``count`` annotations whose images live in ``image_dir``."""
    images, anns = [], []
    for i in range(count):
        kp = hand_keypoints(80, 60, 40, seed=200 + i)
        name = f"{prefix}{i}.jpg"
        write_image(image_dir / name, kp)
        images.append({"file_name": name, "width": 160, "height": 120, "id": i + 1})
        box = [float(kp[:, 0].min() - 3), float(kp[:, 1].min() - 3), 46.0, 47.0]
        anns.append({"image_id": i + 1, "id": 1000 + i, "bbox": box, "keypoints": kp.reshape(-1).tolist(),
                     "num_keypoints": 21, "head_size": 50.0, "category_id": 1})
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1}]}))
    return json_path


def items_digest(dataset: Any, epochs: tuple[int, ...] = (0, 1)) -> str:
    """sha256 of every tensor of every item of ``dataset`` (a HandDataset or DetectionDataset: ``set_epoch`` and
    items that are dicts of tensors) over ``epochs``, keys in sorted order: equal digests, byte-identical items."""
    h = hashlib.sha256()
    for epoch in epochs:
        dataset.set_epoch(epoch)
        for i in range(len(dataset)):
            for key, value in sorted(dataset[i].items()):
                h.update(key.encode())
                h.update(value.numpy().tobytes())
    return h.hexdigest()
