"""Training whose held-out images all turn out unreadable (zero-byte files; the readers read no image, so they count
only when loaded): each validation says so in a warning, measures nothing, and keeps no best weights. It logged
``PCK@0.2=0 AUC=0 EPE=0.00 px`` (an EPE of 0 reads as perfect) and wrote a best.safetensors chosen on no hand."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
from test_data_helpers import hand_keypoints, write_hand

from handpose.config import DataConfig, TrainConfig
from handpose.model.cpm import preset
from handpose.training.trainer import train


def test_a_held_out_split_of_unreadable_images_keeps_no_best_weights(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "hand_labels"
    for i in range(4):
        write_hand(data / "manual_train", f"{i:08d}", hand_keypoints(80, 60, 40, seed=i), head_size=30.0)
    for i in range(2):
        write_hand(data / "manual_test", f"{i:08d}", hand_keypoints(80, 60, 40, seed=10 + i), head_size=30.0)
        (data / "manual_test" / f"{i:08d}.jpg").write_bytes(b"")  # found bad only when read
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "run"), model=preset("tiny"),
                      dataset=DataConfig(input_size=64), batch_size=2, max_steps=2, val_every=2, workers=0, threads=1,
                      seed=0)
    with caplog.at_level(logging.WARNING, logger="handpose"):
        summary = train(cfg)
    assert summary["best_weights"] is None and not (tmp_path / "run" / "best.safetensors").exists()
    warned = [r.getMessage() for r in caplog.records if "none of the 2 held-out samples could be read" in
              r.getMessage()]
    assert len(warned) == 1 and "manual_test/00000000" in warned[0] and "empty file" in warned[0], warned
    last = summary["last_validation"]
    assert last["num_samples"] == 0 and math.isnan(last["PCK@0.2"]) and math.isnan(last["EPE"])
