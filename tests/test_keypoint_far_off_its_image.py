"""A CMU hand (hand_labels, hand_labels_synth, panopticdb: the box is the tight box of the visible keypoints) with one
visible keypoint labelled far off its image (``y = 1e7`` for a 160 x 120 image) is skipped and counted where its image
is read, in training and evaluation alike, as a COCO bbox over 10 times the image's longer side already was: it was
cropped at a scale that shrank the hand to nothing, and its one keypoint's error took a 12-hand evaluation's EPE to
over 500,000 px."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from test_data_helpers import hand_keypoints, write_hand

from handpose.config import DataConfig
from handpose.data import skip_report as R
from handpose.data.dataset import HandDataset
from handpose.data.formats import load_splits
from handpose.evaluate import evaluate

CFG = DataConfig(input_size=64)


def far_off_dataset(root: Path) -> Path:
    """root/synth1 of 4 hands on 160 x 120 images; hand 00000002's keypoint 18 is labelled visible at y = 1e7."""
    for i in range(4):
        kp = hand_keypoints(80, 60, 40, seed=i)
        if i == 2:
            kp[18] = (80.0, 1e7, 1.0)
        write_hand(root / "synth1", f"{i:08d}", kp)
    return root


def test_training_replaces_and_counts_the_far_off_hand(tmp_path: Path) -> None:
    samples = load_splits(far_off_dataset(tmp_path), val_fraction=0.0, workers=1).train
    far = next(i for i, s in enumerate(samples) if s.key.endswith("00000002"))
    dataset = HandDataset(samples, CFG, train=False)
    item = dataset[far]
    assert int(item["index"]) != far  # another hand stands in
    assert dict(dataset.skipped.counts) == {R.BAD_BOX: 1}
    assert "00000002.jpg" in dataset.skipped.summary() and "longer side" in dataset.skipped.summary()


def test_evaluation_skips_the_far_off_hand_and_names_it(tmp_path: Path, tiny_cpm: Callable[[int], Any]) -> None:
    samples = load_splits(far_off_dataset(tmp_path), val_fraction=0.0, workers=1).train
    result = evaluate(tiny_cpm(0), samples, CFG, threads=1)
    assert result["num_skipped"] == 1 and result["skipped"] == {"longer side": 1}
    assert "synth1/00000002" in result["skipped_examples"][0]
    assert result["num_samples"] == 3 and np.isfinite(result["EPE"]) and result["EPE"] < 200  # 3 hands on the image
