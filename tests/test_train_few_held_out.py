"""A small dataset whose held-out split has only a few hands (a fine-tune on 50-200 labelled hands at the default
--val-fraction): training says at the start that its validation figures, and the best.safetensors they pick, are
chance; at ten hands or more, or with none held out (its own warning), it says nothing of the kind."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from test_data_helpers import write_coco

from handpose.config import DataConfig, TrainConfig
from handpose.data.formats import load_splits
from handpose.detection.task import DetectTask
from handpose.detection.toy_scenes import write_toy_scenes
from handpose.model.cpm import preset
from handpose.training.distributed import DistInfo
from handpose.training.held_out import FEW_HANDS
from handpose.training.recipes import detect_config
from handpose.training.setup import prepare_data

FEW = "the step best.safetensors keeps are chance"


def _warned(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if FEW in r.getMessage() and r.levelno == logging.WARNING]


@pytest.mark.parametrize("fraction", [0.1, 0.6, 0.0])
def test_keypoint_training_warns_of_a_few_held_out_hands(tmp_path: Path, fraction: float,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    data = write_coco(tmp_path / "hands.json", tmp_path, 30)
    held_out = len(load_splits(data, val_fraction=fraction).val)
    cfg = TrainConfig(data=str(data), model=preset("tiny"), dataset=DataConfig(input_size=64, val_fraction=fraction),
                      val_every=10)
    with caplog.at_level(logging.WARNING, logger="handpose"):
        _, val, _ = prepare_data(cfg, DistInfo())
    assert len(val) == held_out
    warned = _warned(caplog)
    if 0 < held_out < FEW_HANDS:
        assert len(warned) == 1 and f"only {held_out} hand" in warned[0] and "--val-fraction" in warned[0]
        assert "each moves its PCK@0.2 by about" in warned[0] and "AP" not in warned[0]
    else:
        assert not warned, (held_out, warned)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="handpose"):  # no validation asked for: nothing to say
        prepare_data(dataclasses.replace(cfg, val_every=0), DistInfo())
    assert not _warned(caplog)


def test_a_few_hands_in_the_datasets_own_test_part_are_not_blamed_on_val_fraction(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_coco(tmp_path / "hands_train.json", tmp_path, 30)
    write_coco(tmp_path / "hands_test.json", tmp_path, 4, prefix="test")  # validation is this file, whole
    splits = load_splits(tmp_path, val_fraction=0.1)
    assert len(splits.val) == 4 and not splits.hash_val
    cfg = TrainConfig(data=str(tmp_path), model=preset("tiny"), dataset=DataConfig(input_size=64), val_every=10)
    with caplog.at_level(logging.WARNING, logger="handpose"):
        prepare_data(cfg, DistInfo())
    (warned,) = _warned(caplog)
    assert "only 4 hands" in warned and "the dataset's own test part" in warned and "label more hands" in warned
    assert "hold more out" not in warned  # --val-fraction moves no hand into a test part of its own


def test_detector_training_warns_of_a_few_held_out_hands(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = write_toy_scenes(tmp_path / "scenes", count=24, seed=2)
    cfg = detect_config(TrainConfig(data=str(data), val_every=10))
    with caplog.at_level(logging.WARNING, logger="handpose"):
        _, val, _ = DetectTask().prepare_data(cfg)
    hands = sum(im.num_hands for im in val)
    assert 0 < hands < FEW_HANDS  # the toy render holds two images of its 24 out
    warned = _warned(caplog)
    assert len(warned) == 1 and f"in {len(val)} image" in warned[0]
    assert "each moves its AP@0.5 by about" in warned[0] and "PCK" not in warned[0]  # the detector's own figure


def test_val_limit_does_not_hide_a_held_out_part_that_is_small_itself(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    data = write_coco(tmp_path / "hands.json", tmp_path, 30)
    held_out = len(load_splits(data, val_fraction=0.2).val)
    assert 1 < held_out < FEW_HANDS
    base = TrainConfig(data=str(data), model=preset("tiny"), dataset=DataConfig(input_size=64, val_fraction=0.2),
                       val_every=10)
    with caplog.at_level(logging.WARNING, logger="handpose"):
        prepare_data(dataclasses.replace(base, val_limit=held_out - 1), DistInfo())
    assert len(_warned(caplog)) == 1  # the part itself is under ten hands: a limit changes nothing of that
    big = write_coco(tmp_path / "many.json", tmp_path, 300, prefix="many")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="handpose"):  # a large part scored on a chosen few: the user's call
        prepare_data(dataclasses.replace(base, data=str(big), val_limit=5), DistInfo())
    assert not _warned(caplog)
    scenes = write_toy_scenes(tmp_path / "scenes", count=24, seed=2)  # two images held out, under ten hands
    cfg = dataclasses.replace(detect_config(TrainConfig(data=str(scenes), val_every=10)), val_limit=1)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="handpose"):
        DetectTask().prepare_data(cfg)
    assert len(_warned(caplog)) == 1 and "AP@0.5" in _warned(caplog)[0]
