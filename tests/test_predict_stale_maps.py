"""A predict into a folder an earlier predict wrote, with fewer belief-map pictures (``--maps none`` after
``--maps all``), removes that earlier run's map pictures of the image: they showed other maps than NAME.json's.
A user's file of such a name is never touched (predict refuses to write beside it as before)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import torch

from handpose.cli import main
from handpose.config import DataConfig, to_dict
from handpose.export import sample_crops
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model


def test_fewer_maps_remove_the_earlier_runs_map_pictures(tmp_path: Path) -> None:
    torch.manual_seed(5)
    weights = tmp_path / "tiny.safetensors"
    save_weights(build_model("tiny"), weights, metadata={"data_config": json.dumps(to_dict(DataConfig(input_size=64)))})
    image = tmp_path / "hand.png"
    cv2.imwrite(str(image), cv2.resize(sample_crops(64, 1, seed=3)[0], (80, 60)))
    out = tmp_path / "out"
    base = ["predict", "--model", str(weights), str(image), "--out", str(out), "--box", "0,0,80,60"]
    assert main([*base, "--maps", "all"]) == 0
    assert (out / "hand_maps.png").is_file() and (out / "hand_allmaps.png").is_file()
    assert main([*base, "--maps", "stages"]) == 0
    assert (out / "hand_maps.png").is_file() and not (out / "hand_allmaps.png").exists()
    assert main([*base, "--maps", "none"]) == 0
    assert not (out / "hand_maps.png").exists() and (out / "hand.json").is_file()
