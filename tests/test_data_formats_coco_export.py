"""COCO keypoint files as labelling tools (CVAT, Label Studio) export them: a hand category beside others
("person"), sides as categories ("left_hand" / "right_hand") or as a ``handedness`` text, no ``is_left``. The
keypoint reader takes the sides and leaves the other categories out as the detector's reader does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_data_helpers import hand_keypoints, write_image

from handpose.data import formats as F
from handpose.data import skip_report as R
from handpose.detection.coco import read_detection_images

HAND = {"keypoints": [f"k{i}" for i in range(21)], "skeleton": []}


def _export(folder: Path, categories: list[dict], hands: list[dict], persons: int = 0) -> Path:
    """A CVAT-style export: ``images/batch/imgN.jpg`` with one hand each (``hands[i]`` merged into its
    annotation), ``persons`` person boxes without keypoints, ``annotations/person_keypoints_default.json``."""
    images, anns = [], []
    for i, extra in enumerate(hands):
        kp = hand_keypoints(80, 60, 40, seed=300 + i)
        write_image(folder / "images" / "batch" / f"img{i}.jpg", kp)
        images.append({"id": i + 1, "file_name": f"batch/img{i}.jpg", "width": 160, "height": 120})
        box = [float(kp[:, 0].min() - 3), float(kp[:, 1].min() - 3), 46.0, 47.0]
        anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 2, "bbox": box, "iscrowd": 0,
                     "segmentation": [], "keypoints": kp.reshape(-1).tolist(), "num_keypoints": 21, **extra})
    for i in range(persons):
        anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "bbox": [1.0, 1.0, 50.0, 90.0],
                     "iscrowd": 0, "segmentation": [], "keypoints": [], "num_keypoints": 0})
    path = folder / "annotations" / "person_keypoints_default.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": categories}))
    return path


def _samples(path: Path) -> tuple[list, F.Splits]:
    splits = F.load_splits(path, val_fraction=0.0)
    return sorted(splits.train, key=lambda s: s.key), splits


def test_sides_from_left_and_right_hand_categories(tmp_path: Path) -> None:
    sides = [True, False, True, True, False, False]
    cats = [{"id": 1, "name": "person"}, {"id": 2, "name": "left_hand", **HAND},
            {"id": 3, "name": "right_hand", **HAND}]
    path = _export(tmp_path, cats, [{"category_id": 2 if s else 3} for s in sides], persons=4)
    samples, splits = _samples(path)
    assert [s.is_left for s in samples] == sides and all(s.side_known for s in samples)
    assert dict(splits.skipped.counts) == {R.NOT_A_HAND: 4}  # the persons: not "wrong number of points"
    detected = sorted(read_detection_images(path), key=lambda im: im.key)  # the detector reads the same sides
    assert [bool(im.is_left[0]) for im in detected] == sides and all(im.left_known.all() for im in detected)


@pytest.mark.parametrize("text", ["left", "Right", "L", "r"])
def test_side_from_handedness(tmp_path: Path, text: str) -> None:
    cats = [{"id": 1, "name": "person"}, {"id": 2, "name": "hand", **HAND}]
    samples, _ = _samples(_export(tmp_path, cats, [{"handedness": text}]))
    assert samples[0].side_known and samples[0].is_left == (text.lower() in ("left", "l"))


def test_is_left_wins_and_sides_that_cannot_be_read_are_counted(tmp_path: Path) -> None:
    cats = [{"id": 2, "name": "left hand", **HAND}]
    hands = [{"is_left": 0}, {"handedness": "both"}, {"is_left": None, "handedness": None}, {}]
    samples, splits = _samples(_export(tmp_path, cats, hands))
    assert [(s.key.split("#")[0], s.is_left, s.side_known) for s in samples] == [
        ("batch/img0.jpg", False, True), ("batch/img2.jpg", True, True), ("batch/img3.jpg", True, True)]
    assert dict(splits.skipped.counts) == {R.BAD_ANNOTATION: 1}
    assert "left/right" in splits.skipped.summary("annotations")


def test_categories_naming_no_hand_keep_every_annotation_without_a_side(tmp_path: Path) -> None:
    cats = [{"id": 2, "name": "keypoints"}]
    samples, splits = _samples(_export(tmp_path, cats, [{}, {}, {}]))
    assert len(samples) == 3 and not any(s.side_known for s in samples) and not splits.skipped.total
    assert np.isfinite(samples[0].keypoints).all()


def test_sides_under_attributes_as_cvat_exports_them(tmp_path: Path) -> None:
    """CVAT's COCO export puts a label's own attributes under ``attributes``; both readers take the side there,
    and a readable top-level field still wins."""
    cats = [{"id": 2, "name": "hand", **HAND}]
    hands = [{"attributes": {"occluded": False, "handedness": "left"}}, {"attributes": {"is_left": "false"}},
             {"is_left": 1, "attributes": {"handedness": "right"}}, {"attributes": {"occluded": True}},
             {"attributes": {"handedness": "both"}}]
    samples, splits = _samples(_export(tmp_path, cats, hands))
    assert [(s.key.split("#")[0], s.is_left, s.side_known) for s in samples] == [
        ("batch/img0.jpg", True, True), ("batch/img1.jpg", False, True), ("batch/img2.jpg", True, True),
        ("batch/img3.jpg", False, False)]
    assert "'attributes.handedness' is 'both'" in splits.skipped.summary("annotations")
    detected = sorted(read_detection_images(tmp_path / "annotations" / "person_keypoints_default.json"),
                      key=lambda im: im.key)
    assert [(bool(im.is_left[0]), bool(im.left_known[0])) for im in detected] == [
        (True, True), (False, True), (True, True), (False, False), (False, False)]
