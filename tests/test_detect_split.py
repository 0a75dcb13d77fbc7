"""The detector's train/held-out split follows the keypoint task's: a json named for training holds out a hash share
when no val/test json stands beside it (it held nothing out, so its run validated on nothing), and beside one it is
all training."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from handpose.cli import main
from handpose.config import TrainConfig
from handpose.data.split import is_val
from handpose.detection.coco import read_detection_images, split_images
from handpose.detection.task import DetectTask
from handpose.detection.toy_scenes import write_toy_scenes
from handpose.model.artifact import load_checkpoint
from handpose.training.checkpoints import list_checkpoints
from handpose.training.recipes import detect_config


def test_a_lone_training_json_holds_out_its_hash_share(tmp_path: Path) -> None:
    scenes = write_toy_scenes(tmp_path / "lone", count=20, seed=5)
    lone = scenes.with_name("hands_train.json")
    scenes.rename(lone)
    items = read_detection_images(lone)
    assert {im.split for im in items} == {"train"}
    train, val = split_images(items, 0.3)
    assert [im.key for im in val] == [im.key for im in items if is_val(im.key, 0.3)] and val and train


def _moved(scenes: Path, to: Path) -> None:
    """The scenes' json written at ``to``, its image paths absolute."""
    doc = json.loads(scenes.read_text())
    for image in doc["images"]:
        image["file_name"] = str(scenes.parent / "images" / image["file_name"])  # where toy scenes keep them
    to.write_text(json.dumps(doc))


def test_beside_a_held_out_json_the_training_json_is_all_training(tmp_path: Path) -> None:
    folder = tmp_path / "both"
    folder.mkdir()
    _moved(write_toy_scenes(tmp_path / "a", count=12, seed=6), folder / "hands_train.json")
    _moved(write_toy_scenes(tmp_path / "b", count=4, seed=7), folder / "hands_val.json")
    items = read_detection_images(folder)
    train, val = split_images(items, 0.3)
    assert {im.split for im in train} == {"train"} and len(train) == 12
    assert {im.split for im in val} == {"val"} and len(val) == 4
    (folder / "hands_val.json").unlink()
    assert split_images(read_detection_images(folder), 0.3)[1]  # alone again: its hash share held out


@pytest.mark.slow
def test_a_run_that_split_by_the_earlier_rule_resumes_on_it(tmp_path: Path) -> None:
    """A detector run on a lone ``*_train.json`` started before the rule was recorded held nothing out: resumed, it
    still holds nothing out (on today's rule it would validate on images it trained on); a new run holds out its
    share."""
    scenes = write_toy_scenes(tmp_path / "scenes", count=24, seed=1)
    data = scenes.rename(scenes.with_name("hands_train.json"))
    run = tmp_path / "run"
    args = ["-q", "train", "--task", "detect", "--data", str(data), "--out", str(run), "--input-size", "64",
            "--batch-size", "4", "--val-every", "0", "--ckpt-every", "2", "--workers", "0", "--device", "cpu",
            "--threads", "1", "--no-amp", "--val-fraction", "0.3"]
    assert main([*args, "--max-steps", "4", "--stop-at-step", "2"]) == 0
    held_out = len(split_images(read_detection_images(data), 0.3)[1])
    assert held_out > 0 and json.loads((run / "summary.json").read_text())["val_samples"] == held_out
    for path in list_checkpoints(run / "checkpoints"):  # as the versions before the rule's record wrote them
        state = load_checkpoint(path)
        del state["train_config"]["split_rule"]
        buffer = io.BytesIO()
        torch.save(state, buffer)
        path.write_bytes(buffer.getvalue())
    assert main(["-q", "train", "--resume", str(run), "--workers", "0", "--threads", "1"]) == 0
    assert json.loads((run / "summary.json").read_text())["val_samples"] == 0
    assert load_checkpoint(list_checkpoints(run / "checkpoints")[-1])["train_config"]["split_rule"] == 1


def test_a_run_resumed_on_the_earlier_rule_is_told_why_it_holds_nothing_out(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Resumed on rule 1, a lone ``*_train.json`` holds nothing out: the warning said the hash split held out none
    of its few images and to raise --val-fraction, which --resume refuses; it names the rule and a new run."""
    scenes = write_toy_scenes(tmp_path / "scenes", count=24, seed=1)
    data = scenes.rename(scenes.with_name("hands_train.json"))
    cfg = detect_config(TrainConfig(data=str(data), val_every=10, split_rule=1))
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert DetectTask().prepare_data(cfg)[1] == []
    said = [r.getMessage() for r in caplog.records if "no image is held out" in r.getMessage()]
    assert len(said) == 1 and "split rule of before 2026-12-07" in said[0] and "raise --val-fraction" not in said[0]
    caplog.clear()
    cfg = dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, val_fraction=0.0), split_rule=2)
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert DetectTask().prepare_data(cfg)[1] == []
    assert "--val-fraction 0 holds none out" in caplog.text


@pytest.mark.slow
def test_eval_warns_of_held_out_images_a_detector_trained_on(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """A detector's weights record its split rule beside its --val-fraction; eval --task detect --split val counts
    the images it holds out that the run trained on: with a larger fraction than the run's, or for a file of the
    rule before 2026-12-07 (no record), every image of a lone ``*_train.json``."""
    from safetensors.numpy import load_file, save_file

    from handpose.model.artifact import read_metadata

    scenes = write_toy_scenes(tmp_path / "scenes", count=30, seed=2)
    data = scenes.rename(scenes.with_name("hands_train.json"))
    run = tmp_path / "run"
    assert main(["-q", "train", "--task", "detect", "--data", str(data), "--out", str(run), "--input-size", "64",
                 "--batch-size", "4", "--val-every", "0", "--workers", "0", "--device", "cpu", "--threads", "1",
                 "--no-amp", "--val-fraction", "0.2", "--max-steps", "1"]) == 0
    weights = run / "model.safetensors"
    assert read_metadata(weights)["split_rule"] == "2"
    items = read_detection_images(data)

    def warned(path: Path, fraction: float) -> str:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="handpose"):
            assert main(["-q", "eval", "--task", "detect", "--weights", str(path), "--data", str(data), "--split",
                         "val", "--val-fraction", str(fraction), "--out", str(tmp_path / "ev.json"), "--overwrite",
                         "--threads", "1"]) == 0
        return "\n".join(r.getMessage() for r in caplog.records if "images this evaluation holds out" in
                         r.getMessage())

    assert warned(weights, 0.2) == ""  # its own held-out images
    larger = split_images(items, 0.5)[1]
    seen = sum(not is_val(im.key, 0.2) for im in larger)
    assert seen and f"{seen} of the {len(larger)} images this evaluation holds out" in warned(weights, 0.5)
    old = tmp_path / "old.safetensors"  # as the versions before the rule's record wrote it
    meta = {k: v for k, v in read_metadata(weights).items() if k != "split_rule"}
    save_file(load_file(str(weights)), str(old), meta)
    held = split_images(items, 0.2)[1]
    message = warned(old, 0.2)
    assert "before 2026-12-07" in message and f"{len(held)} of the {len(held)} images" in message


def test_eval_counts_the_hash_held_out_images_beside_a_held_out_json(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A folder of ``hands_val.json`` and an ``extra.json`` without a split word: the val json is held out, and the
    hash holds out a share of the extra images, as the keypoint task's ``Splits.hash_val``. A detector that held out
    0.1 by hash trained on some of the extra images an evaluation at 0.6 holds out; the check said nothing where any
    image was a val json's, and the report recorded no val_fraction though the hash chose those images."""
    from safetensors.numpy import save_file

    from handpose.detection.held_out_check import hash_divided, warn_if_trained_on
    from handpose.model import artifact

    folder = tmp_path / "both"
    folder.mkdir()
    _moved(write_toy_scenes(tmp_path / "a", count=30, seed=6), folder / "extra.json")
    _moved(write_toy_scenes(tmp_path / "b", count=4, seed=7), folder / "hands_val.json")
    items = read_detection_images(folder)
    held = split_images(items, 0.6)[1]
    seen = [im for im in held if im.split is None and not is_val(im.key, 0.1)]
    assert seen and any(im.split == "val" for im in held)
    weights = tmp_path / "detector.safetensors"  # the split a detector's weights record (trainer._save_weights)
    save_file({"w": np.zeros(1, "float32")}, str(weights),
              {artifact.DATA_CONFIG_KEY: json.dumps({"val_fraction": 0.1}), artifact.SPLIT_RULE_KEY: "2"})
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert warn_if_trained_on(weights, folder, items, held, 0.6) == len(seen)
        own = split_images(items, 0.1)[1]  # its own fraction: nothing seen
        assert warn_if_trained_on(weights, folder, items, own, 0.1) == 0
    assert "holding out 0.1 by hash" in caplog.text and f"{len(seen)} of the {len(held)} images" in caplog.text
    assert hash_divided(items) and not hash_divided([im for im in items if im.split == "val"])
