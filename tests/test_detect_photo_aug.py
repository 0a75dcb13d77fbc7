"""A poor camera's look on the detector's training images (``--task detect --photo-aug-prob``): only the pixels of
the letterboxed input change, reproducibly per seed, and a run without it draws exactly the items it drew before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_data_helpers import items_digest

from handpose.config import AugmentConfig, DataConfig, DetectorConfig
from handpose.detection.coco import DetectionImage, read_detection_images
from handpose.detection.dataset import DetectionDataset
from handpose.detection.toy_scenes import write_toy_scenes

CFG = DetectorConfig(width=0.25, backbone_repeats=1, neck_channels=16, head_channels=16, input_size=64)
# sha256 of the items below (two epochs of 4, every tensor) as the dataset made them before it read photo_aug_prob
ITEMS_BEFORE = "c9a6912adee1b4c5da2e1d44b151479cf7b10829a425ff36217e031722517658"


@pytest.fixture
def items(tmp_path: Path) -> list[DetectionImage]:
    return read_detection_images(write_toy_scenes(tmp_path / "s", 4, seed=2, width=96, height=64, max_hands=2))


def _data(prob: float) -> DataConfig:
    return DataConfig(augment=AugmentConfig(color_jitter=0.3, blur_prob=0.5, photo_aug_prob=prob))


def test_probability_zero_leaves_every_item_as_before(items: list[DetectionImage]) -> None:
    assert items_digest(DetectionDataset(items, CFG, _data(0.0), train=True, seed=3)) == ITEMS_BEFORE
    assert items_digest(DetectionDataset(items, CFG, _data(1.0), train=True, seed=3)) != ITEMS_BEFORE


def test_probability_one_changes_the_pixels_only(items: list[DetectionImage], monkeypatch: pytest.MonkeyPatch) -> None:
    import handpose.detection.dataset as dataset_module
    from handpose.data.photo_aug import poor_camera

    shapes: list[tuple[int, ...]] = []

    def counted(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        shapes.append(image.shape)
        return poor_camera(image, rng)

    monkeypatch.setattr(dataset_module, "poor_camera", counted)
    plain = DetectionDataset(items, CFG, _data(0.0), train=True, seed=3)
    harsh = DetectionDataset(items, CFG, _data(1.0), train=True, seed=3)
    for i in range(len(items)):
        a, b = plain[i], harsh[i]
        assert b["image"].shape == a["image"].shape == (3, 64, 64) and not torch.equal(a["image"], b["image"])
        for key in sorted(set(a) - {"image"}):
            assert torch.equal(a[key], b[key]), key  # the zoom, shift, flip and targets are drawn before the pixels
        assert torch.equal(b["image"], harsh[i]["image"])  # reproducible per (seed, epoch, index)
    assert shapes == [(64, 64, 3)] * (2 * len(items))  # the whole letterboxed input, once per item
    evaluation = DetectionDataset(items, CFG, _data(1.0), train=False)  # no augmentation at evaluation
    assert torch.equal(evaluation[0]["image"], DetectionDataset(items, CFG, _data(0.0), train=False)[0]["image"])


def test_the_detector_takes_the_flag(tmp_path: Path) -> None:
    from handpose.cli import build_parser
    from handpose.commands.train import config_from_args

    argv = ["train", "--task", "detect", "--data", str(tmp_path / "d.json"), "--out", str(tmp_path / "run")]
    cfg = config_from_args(build_parser().parse_args([*argv, "--photo-aug-prob", "0.5"]), speed=False)
    assert cfg.task == "detect" and cfg.dataset.augment.photo_aug_prob == 0.5
    assert config_from_args(build_parser().parse_args(argv), speed=False).dataset.augment.photo_aug_prob == 0.0
