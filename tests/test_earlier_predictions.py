"""A ``handpose predict --out`` folder written before 2026-11-27, which kept no manifest of its files, can be
predicted into again: that version's NAME.json (known by its keys) and the NAME_overlay.png / NAME_maps.png beside
it are replaced; a user's own files of those names still are not."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from handpose.cli import main
from handpose.commands.predict_files import MANIFEST
from handpose.config import DataConfig
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model


def _earlier_record(image: Path) -> dict[str, object]:
    """NAME.json as predict wrote it from 2026-11-23 to 2026-11-27 (one hand, its keypoints at the top level)."""
    return {"image": str(image), "width": 80, "height": 60, "model": "tiny:model.safetensors", "is_left": False,
            "flip_test": False, "scales": [1.0], "box": [0.0, 0.0, 80.0, 60.0],
            "keypoints": [{"index": 0, "name": "wrist", "x": 1.0, "y": 2.0, "score": 0.5}]}


def test_an_earlier_predict_folder_is_predicted_into_again(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(5)
    weights = tmp_path / "tiny.safetensors"
    save_weights(build_model("tiny"), weights, data_cfg=DataConfig(input_size=64, stride=8))
    image = tmp_path / "a.jpg"
    cv2.imwrite(str(image), np.full((60, 80, 3), 128, np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.json").write_text(json.dumps(_earlier_record(image), indent=1) + "\n")
    pixel = np.zeros((2, 2, 3), np.uint8)  # the old overlay and maps pictures: their content does not matter
    cv2.imwrite(str(out / "a_overlay.png"), pixel)
    cv2.imwrite(str(out / "a_maps.png"), pixel)

    command = ["predict", "--model", str(weights), str(image), "--out", str(out), "--box", "10,10,40,40"]
    assert main(command) == 0, capsys.readouterr().err
    assert "hands" in json.loads((out / "a.json").read_text())  # today's record replaced the earlier one
    assert {"a.json", "a_overlay.png", "a_maps.png"} <= set((out / MANIFEST).read_text().split())

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "a.json").write_text('{"image": "my notes"}')  # a user's own file of that name
    capsys.readouterr()
    assert main([*command[:-4], "--out", str(mine), "--box", "10,10,40,40"]) == 2
    assert "would replace a file predict did not write" in capsys.readouterr().err
    assert (mine / "a.json").read_text() == '{"image": "my notes"}'
