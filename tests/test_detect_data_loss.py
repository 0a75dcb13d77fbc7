"""Detection data (COCO boxes -> images, bad input counted, letterboxed items, flips swap hands) and the loss's
known values on tiny tensors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from handpose.config import DataConfig, DetectorConfig
from handpose.data import skip_report as R
from handpose.data.skip_report import SkipReport
from handpose.detection.coco import read_detection_images, split_images
from handpose.detection.dataset import DetectionDataset
from handpose.detection.loss import LOSS_NAMES, detection_loss, focal_loss
from handpose.detection.toy_scenes import write_toy_scenes

CFG = DetectorConfig(width=0.25, backbone_repeats=1, neck_channels=16, head_channels=16, input_size=64)


@pytest.fixture
def scenes(tmp_path: Path) -> Path:
    return write_toy_scenes(tmp_path / "scenes", 6, seed=2, width=96, height=64, max_hands=2)


def test_reader_keeps_empty_images_and_counts_bad_annotations(scenes: Path) -> None:
    doc = json.loads(scenes.read_text())
    first = doc["images"][0]["id"]
    doc["annotations"] += [
        {"id": 900, "image_id": first, "bbox": [10, 10, -5, 4]},  # no positive size
        {"id": 901, "image_id": first, "bbox": ["a", 1, 2, 3]},  # not numbers
        {"id": 902, "image_id": 12345, "bbox": [1, 1, 5, 5]},  # no such image
        {"id": 903, "image_id": first, "bbox": [1, 1, 5, 5], "iscrowd": 1},  # a crowd: left out silently
    ]
    doc["images"].append({"id": 77, "file_name": "gone.png", "width": 96, "height": 64})
    scenes.write_text(json.dumps(doc))
    report = SkipReport()
    items = read_detection_images(scenes, report)
    # every image file that exists, with or without hands, but the first: its unusable hands would count as nothing
    first_file = Path(doc["images"][0]["file_name"]).name
    assert len(items) == 5 and first_file not in {im.path.name for im in items}
    hands_elsewhere = sum(a["image_id"] not in (first, 12345) for a in doc["annotations"])
    assert sum(im.num_hands for im in items) == hands_elsewhere
    assert report.counts[R.BAD_BOX] == 2 and report.counts[R.BAD_ANNOTATION] == 2  # no such image; first left out
    assert report.counts[R.MISSING_IMAGE] == 1
    assert all(im.left_known.all() for im in items)
    train, val = split_images(items, 0.5)
    assert sorted(im.key for im in train + val) == sorted(im.key for im in items)


def test_handedness_comes_from_either_key_or_is_unknown(tmp_path: Path) -> None:
    import cv2

    (tmp_path / "a.png").write_bytes(cv2.imencode(".png", np.zeros((20, 20, 3), np.uint8))[1].tobytes())
    anns = [{"image_id": 1, "bbox": [1, 1, 5, 5], "handedness": "left"}, {"image_id": 1, "bbox": [8, 8, 5, 5]}]
    (tmp_path / "d.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png"}], "annotations": anns}))
    (item,) = read_detection_images(tmp_path / "d.json")
    assert item.is_left.tolist() == [True, False] and item.left_known.tolist() == [True, False]


def test_items_are_letterboxed_with_targets(scenes: Path) -> None:
    items = read_detection_images(scenes)
    ds = DetectionDataset(items, CFG, DataConfig(), train=False)
    item = ds[0]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.float32
    assert item["heatmap"].shape == (1, 16, 16) and item["index"].shape == (CFG.max_hands,)
    assert int(item["mask"].sum()) == items[0].num_hands
    # 96 x 64 -> 64 x 43: the scale is 2/3 and the image sits in the middle of the square
    M = item["matrix"].numpy()
    assert M[0, 0] == pytest.approx(2 / 3) and M[1, 2] > 5
    assert float(item["image"][:, 0, :].abs().max()) == 0.0  # the grey padding row is 0 after to_network_input


def test_a_flip_swaps_left_and_right(scenes: Path) -> None:
    items = [im for im in read_detection_images(scenes) if im.num_hands][:1]
    data = DataConfig()
    data.augment.flip_prob = 1.0
    data.augment.scale_min = data.augment.scale_max = 1.0
    data.augment.translate = 0.0
    flipped = DetectionDataset(items, CFG, data, train=True)[0]
    plain = DetectionDataset(items, CFG, data, train=False)[0]
    n = items[0].num_hands
    assert (flipped["left"][:n] == 1 - plain["left"][:n]).all()
    np.testing.assert_allclose(flipped["heatmap"][0].numpy(), plain["heatmap"][0].numpy()[:, ::-1], atol=0.3)


def test_a_bad_image_is_counted_and_replaced(scenes: Path) -> None:
    items = read_detection_images(scenes)
    items[1].path.write_bytes(b"not an image")
    ds = DetectionDataset(items, CFG, DataConfig(), train=False)
    item = ds[1]
    assert int(item["index_image"]) != 1
    assert ds.skipped.counts[R.CORRUPT_IMAGE] == 1
    ds[1]
    assert ds.skipped.counts[R.CORRUPT_IMAGE] == 1  # not read again


def test_focal_loss_known_value() -> None:
    target = torch.tensor([[[[1.0, 0.0], [0.5, 0.0]]]])
    # p = 0.5 everywhere: the peak (1/4 log 2), two background cells (1/4 log 2 each), the half cell (1/16 of that)
    expected = 0.25 * math.log(2) * (3 + 1 / 16)
    assert float(focal_loss(torch.zeros(1, 1, 2, 2), target)) == pytest.approx(expected, rel=1e-6)


def test_detection_loss_is_zero_for_perfect_regressions_and_names_its_parts() -> None:
    maps = {"heatmap": torch.full((1, 1, 4, 4), -20.0), "size": torch.zeros(1, 2, 4, 4),
            "offset": torch.zeros(1, 2, 4, 4), "left": torch.zeros(1, 1, 4, 4)}
    maps["heatmap"][0, 0, 1, 2] = 20.0
    maps["size"][0, :, 1, 2] = torch.tensor([1.0, 2.0])
    maps["offset"][0, :, 1, 2] = torch.tensor([0.25, 0.5])
    batch = {"heatmap": torch.zeros(1, 1, 4, 4), "index": torch.tensor([[6, 0]]),
             "size": torch.tensor([[[1.0, 2.0], [0.0, 0.0]]]), "offset": torch.tensor([[[0.25, 0.5], [9.0, 9.0]]]),
             "left": torch.tensor([[1.0, 0.0]]), "mask": torch.tensor([[1.0, 0.0]]),
             "left_mask": torch.tensor([[1.0, 1.0]])}
    batch["heatmap"][0, 0, 1, 2] = 1.0
    total, parts = detection_loss(maps, batch)
    assert len(parts) == len(LOSS_NAMES)
    assert float(parts[0]) == pytest.approx(0.0, abs=1e-6) and float(parts[1]) == 0 and float(parts[2]) == 0
    assert float(parts[3]) == pytest.approx(0.5 * math.log(2))  # logit 0 for a left hand, weight 0.5
    assert float(total) == pytest.approx(sum(float(p) for p in parts))
