"""COCO-WholeBody hands: detected from their keys, one sample per valid hand, invalid hands skipped and counted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_data_helpers import hand_keypoints, write_image

from handpose.data import skip_report as R
from handpose.data.formats import FORMATS, detect_format, load_splits


def _hand(kp: np.ndarray | None) -> dict[str, object]:
    if kp is None:  # how COCO-WholeBody stores an unannotated hand
        return {"kpts": [0.0] * 63, "box": [0.0, 0.0, 0.0, 0.0], "valid": False}
    lo, hi = kp[:, :2].min(axis=0), kp[:, :2].max(axis=0)
    return {"kpts": kp.reshape(-1).tolist(), "box": [*map(float, lo - 2), *map(float, hi - lo + 4)], "valid": True}


def write_wholebody(root: Path, split: str = "val") -> tuple[Path, dict[str, np.ndarray]]:
    """COCO's layout: annotations/coco_wholebody_{split}_v1.0.json, images in {split}2017/; 3 people."""
    left, right, other = hand_keypoints(40, 60, 30, 1), hand_keypoints(120, 60, 30, 2), hand_keypoints(80, 50, 30, 3)
    people = [(left, right), (None, other), (None, None)]
    images, anns = [], []
    for i, (lh, rh) in enumerate(people):
        name = f"{i:012d}.jpg"
        write_image(root / f"{split}2017" / name, None)
        images.append({"id": i + 1, "file_name": name, "width": 160, "height": 120})
        ann = {"id": 100 + i, "image_id": i + 1, "category_id": 1, "iscrowd": 0, "bbox": [0, 0, 160, 120],
               "keypoints": [0] * 51, "num_keypoints": 0, "foot_kpts": [0] * 18, "face_kpts": [0] * 204,
               "face_box": [0, 0, 0, 0], "face_valid": False}
        for side, kp in (("left", lh), ("right", rh)):
            h = _hand(kp)
            ann |= {f"{side}hand_kpts": h["kpts"], f"{side}hand_box": h["box"], f"{side}hand_valid": h["valid"]}
        anns.append(ann)
    jpath = root / "annotations" / f"coco_wholebody_{split}_v1.0.json"
    jpath.parent.mkdir(parents=True, exist_ok=True)
    jpath.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1}]}))
    return jpath, {"left": left, "right": right, "other": other}


def test_wholebody_hands(tmp_path: Path) -> None:
    jpath, kps = write_wholebody(tmp_path / "coco")
    assert "coco_wholebody" in FORMATS
    for path in (tmp_path / "coco", jpath):
        assert detect_format(path) == "coco_wholebody"  # before: read as coco, "wrong number of points"
    splits = load_splits(tmp_path / "coco")
    assert splits.fmt == "coco_wholebody" and splits.train == [] and len(splits.val) == 3  # a *val* json
    by_key = {s.key: s for s in splits.val}
    assert sorted(by_key) == ["000000000000.jpg#100.left", "000000000000.jpg#100.right", "000000000001.jpg#101.right"]
    first_left, first_right = by_key["000000000000.jpg#100.left"], by_key["000000000000.jpg#100.right"]
    assert first_left.is_left and not first_right.is_left
    np.testing.assert_allclose(first_left.keypoints, kps["left"])
    np.testing.assert_allclose(by_key["000000000001.jpg#101.right"].keypoints, kps["other"])
    lo = kps["left"][:, :2].min(axis=0)
    np.testing.assert_allclose(first_left.box[:2], lo - 2, rtol=1e-6)  # the hand box, not the person's
    assert first_left.image_path == tmp_path / "coco" / "val2017" / "000000000000.jpg"
    assert dict(splits.skipped.counts) == {R.INVALID_HAND: 3}
    assert "annotations[2].lefthand" in splits.skipped.summary()


def test_wholebody_bad_valid_hands_are_counted(tmp_path: Path) -> None:
    jpath, _ = write_wholebody(tmp_path / "coco", "train")
    obj = json.loads(jpath.read_text())
    obj["annotations"][0]["lefthand_box"] = [-1e9, -1e9, 1e12, 1e12]
    obj["annotations"][0]["righthand_kpts"] = [1.0] * 60
    jpath.write_text(json.dumps(obj))
    splits = load_splits(jpath, val_fraction=0.0)
    assert [s.key for s in splits.train] == ["000000000001.jpg#101.right"]
    assert dict(splits.skipped.counts) == {R.INVALID_HAND: 3, R.BAD_BOX: 1, R.WRONG_POINT_COUNT: 1}
    with pytest.raises(ValueError, match="keypoint order .* coco json only"):
        load_splits(jpath, keypoint_order="rhd")
