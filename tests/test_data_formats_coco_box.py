"""COCO boxes: one that is not positive, misses the image or dwarfs it is skipped and counted, never kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_data_helpers import write_coco

from handpose.data import skip_report as R
from handpose.data.formats import load_splits

GOOD = [20.0, 10.0, 46.0, 47.0]
BAD_BOXES = {
    "the eval blow-up": [-1e9, -1e9, 1e12, 1e12],  # once accepted: EPE 1.2e11 px
    "left of the image": [-100.0, 10.0, 50.0, 50.0],
    "below the image": [10.0, 120.0, 30.0, 30.0],  # the 160 x 120 image ends at y = 120
    "zero width": [10.0, 10.0, 0.0, 30.0],
    "negative height": [10.0, 10.0, 30.0, -5.0],
    "11x the image": [0.0, 0.0, 1761.0, 50.0],
    "three numbers": [1.0, 2.0, 3.0],
    "not numbers": ["a", "b", "c", "d"],
}


def _coco_with_boxes(tmp_path: Path, boxes: list[object], sizes: bool = True) -> Path:
    jpath = write_coco(tmp_path / "d" / "hands_train.json", tmp_path / "d", len(boxes))
    obj = json.loads(jpath.read_text())
    for ann, box in zip(obj["annotations"], boxes):
        if box is None:
            del ann["bbox"]
        else:
            ann["bbox"] = box
    if not sizes:
        for im in obj["images"]:
            del im["width"], im["height"]
    jpath.write_text(json.dumps(obj))
    return jpath


@pytest.mark.parametrize("sizes", [True, False], ids=["size_in_json", "size_from_image_header"])
def test_bad_boxes_are_skipped_and_counted(tmp_path: Path, sizes: bool) -> None:
    partly_outside = [-10.0, -5.0, 60.0, 60.0]  # overlaps the image: a hand at its edge, kept
    boxes = [GOOD, partly_outside, None, *BAD_BOXES.values()]
    splits = load_splits(_coco_with_boxes(tmp_path, boxes, sizes), val_fraction=0.0)
    assert dict(splits.skipped.counts) == {R.BAD_BOX: len(BAD_BOXES)}
    kept = sorted(splits.train, key=lambda s: s.key)
    assert [s.image_path.name for s in kept] == ["img0.jpg", "img1.jpg", "img2.jpg"]
    np.testing.assert_array_equal(kept[0].box, GOOD)
    np.testing.assert_array_equal(kept[1].box, partly_outside)
    vis = kept[2].keypoints[:, :2]  # no bbox: the keypoints' tight box
    np.testing.assert_allclose(kept[2].box[:2], vis.min(axis=0))
    for s in kept:
        assert np.isfinite(s.box).all() and s.box[2] > 0 and s.box[3] > 0
    text = splits.skipped.summary()
    assert "hands_train.json#annotations[3]" in text and "outside the 160 x 120 image" in text
