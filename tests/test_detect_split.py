"""The detector's train/held-out split follows the keypoint task's: a json named for training holds out a hash share
when no val/test json stands beside it (it held nothing out, so its run validated on nothing), and beside one it is
all training."""

from __future__ import annotations

import json
from pathlib import Path

from handpose.data.split import is_val
from handpose.detection.coco import read_detection_images, split_images
from handpose.detection.toy_scenes import write_toy_scenes


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
