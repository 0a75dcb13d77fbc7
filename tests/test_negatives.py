"""Hard negatives: the json reader, their training targets, `handpose train --negatives` and the harvesting script."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
from repo_scripts import load_script

from handpose.config import DataConfig, TrainConfig
from handpose.data.codec import HeatmapCodec
from handpose.data.dataset import HandDataset
from handpose.data.formats import load_splits
from handpose.data.formats.negatives import read_negatives
from handpose.data.skip_report import SkipReport
from handpose.model.cpm import preset
from handpose.training.distributed import DistInfo
from handpose.training.setup import check_config, prepare_data

ROOT = Path(__file__).resolve().parents[1]




def _negatives() -> ModuleType:
    """scripts/hard_negatives.py as a module."""
    return load_script("hard_negatives")


def _negatives_json(folder: Path, boxes: list[object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    cv2.imwrite(str(folder / "wall.jpg"), img)
    doc = {"images": [{"id": 7, "file_name": "wall.jpg", "width": 160, "height": 120}],
           "annotations": [{"id": i, "image_id": 7, "bbox": b, "is_left": i % 2} for i, b in enumerate(boxes)]}
    path = folder / "negatives.json"
    path.write_text(json.dumps(doc))
    return path


def test_absent_targets_are_zero_keypoint_maps_with_full_weight() -> None:
    codec = HeatmapCodec(64, 8, 1.0)
    maps, weights = codec.absent()
    assert maps.shape == (22, 8, 8) and weights.shape == (21,)
    assert (maps[:21] == 0).all() and (maps[21] == 1).all() and (weights == 1).all()


def test_reader_gives_negative_samples_and_counts_bad_boxes(tmp_path: Path) -> None:
    path = _negatives_json(tmp_path, [[10, 20, 30, 40], [0, 0, -5, 10], [500, 500, 10, 10], [40, 30, 20, 25]])
    report = SkipReport()
    samples = read_negatives(path, report)
    assert [s.box.tolist() for s in samples] == [[10, 20, 30, 40], [40, 30, 20, 25]]
    assert all(s.negative and s.image_path == tmp_path / "wall.jpg" for s in samples)
    assert [s.is_left for s in samples] == [False, True]
    assert all((s.keypoints == 0).all() for s in samples)
    assert report.total == 2  # the box of negative size and the one off the image


def test_reader_with_no_usable_box_says_what_it_expected(tmp_path: Path) -> None:
    path = _negatives_json(tmp_path, [[0, 0, 0, 0]])
    with pytest.raises(ValueError, match="no usable negative box.*'bbox'"):
        read_negatives(path)


def test_dataset_trains_a_negative_crop_towards_empty_maps(tmp_path: Path, synth_data: Path) -> None:
    hands = load_splits(str(synth_data), None, 0.1).train[:2]
    negatives = read_negatives(_negatives_json(tmp_path, [[10, 20, 30, 40]]))
    ds = HandDataset(hands + negatives, DataConfig(input_size=64), train=True)
    hand, empty = ds[0], ds[2]
    assert ds.sample(2).negative and not ds.sample(0).negative
    assert empty["targets"][:21].abs().sum() == 0 and (empty["targets"][21] == 1).all()
    assert (empty["weights"] == 1).all() and empty["image"].shape == hand["image"].shape
    assert hand["targets"][:21].amax() > 0.5  # a hand's crop keeps its Gaussians


def test_training_adds_the_negatives_to_the_samples(synth_data: Path, tmp_path: Path) -> None:
    path = _negatives_json(tmp_path / "neg", [[10, 20, 30, 40], [40, 30, 20, 25], [60, 10, 50, 50]])
    cfg = TrainConfig(data=str(synth_data), out=str(tmp_path / "run"), model=preset("tiny"),
                      dataset=DataConfig(input_size=64), workers=0)
    plain, val, _ = prepare_data(cfg, DistInfo())
    mixed, val_mixed, _ = prepare_data(dataclasses.replace(cfg, negatives=str(path)), DistInfo())
    assert len(mixed) == len(plain) + 3 and int(mixed.negative.sum()) == 3
    assert len(val_mixed) == len(val)  # validation scores hands only
    with pytest.raises(ValueError, match="--negatives trains the keypoint task only"):
        check_config(dataclasses.replace(cfg, negatives=str(path), task="detect"))
    with pytest.raises(ValueError, match="no such file"):  # said before any data is read or rendered
        check_config(dataclasses.replace(cfg, negatives=str(tmp_path / "missing.json")))


def test_negatives_keep_clear_of_every_labelled_hand() -> None:
    module = _negatives()
    hands = np.array([[100.0, 100.0, 40.0, 40.0]])  # (1, 4)
    proposals = np.array([[105.0, 105.0, 20.0, 20.0],  # on the hand
                          [300.0, 300.0, 30.0, 30.0],  # far away
                          [10.0, 10.0, 20.0, 20.0],  # far away, best scored
                          [150.0, 100.0, 20.0, 40.0]])  # beside it: its padded crop holds half the hand
    scores = np.array([0.9, 0.3, 0.5, 0.8])
    assert module.negatives_of_image(proposals, scores, hands, 1.5, 0.2, 5) == [2, 1]
    assert module.negatives_of_image(proposals, scores, hands, 1.5, 0.2, 1) == [2]
    assert module.negatives_of_image(proposals, scores, np.zeros((0, 4)), 1.5, 0.2, 5) == [0, 3, 2, 1]
    assert module.negatives_of_image(proposals, scores, np.zeros((0, 4)), 1.5, 0.2, None, 25.0) == [3, 1]
    # a large hand: a crop on its fingers holds little of its box but is filled by it, so it is no negative
    large = np.array([[0.0, 0.0, 400.0, 400.0]])
    fingers, beside = [50.0, 50.0, 20.0, 20.0], [395.0, 150.0, 20.0, 20.0]  # the second's crop: a third on the hand
    assert module.negatives_of_image(np.array([fingers, beside]), np.array([0.9, 0.5]), large, 1.5, 0.2, 5) == []
    assert module.negatives_of_image(np.array([fingers, beside]), np.array([0.9, 0.5]), large, 1.5, 0.4, 5) == [1]


@pytest.mark.slow
def test_script_writes_negatives_that_training_reads(tmp_path: Path) -> None:
    from handpose.synth.scenes import write_scenes

    folder = write_scenes(tmp_path / "scenes", 3, 5, workers=1)
    out = tmp_path / "neg" / "negatives.json"
    assert _negatives().main(["--scenes", str(folder / "hands_coco.json"), "--out", str(out), "--per-image", "3"]) == 0
    samples = read_negatives(out)
    assert 0 < len(samples) <= 9 and all(s.image_path.is_file() for s in samples)
    runs = {"every": [], "low": ["--min-hand-score", "1e-6"], "hard": ["--min-hand-score", "0.3"],
            "none": ["--min-hand-score", "0.999"]}
    found = {}
    for name, more in runs.items():
        path = tmp_path / "neg" / f"{name}.json"
        assert _negatives().main(["--scenes", str(folder / "hands_coco.json"), "--out", str(path), "--per-image",
                               "100"] + more) == 0
        found[name] = {tuple(a["bbox"]) for a in json.loads(path.read_text())["annotations"]}
    # every proposal scores above 0 as a hand, none reaches 0.999, and those scored 0.3 or more are some of them
    assert found["every"] and found["low"] == found["every"] and not found["none"]
    assert found["hard"] <= found["every"]
    with pytest.raises(SystemExit):  # an existing file is never replaced
        _negatives().main(["--scenes", str(folder / "hands_coco.json"), "--out", str(out)])
