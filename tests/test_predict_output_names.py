"""A folder run of `handpose predict` writes one set of files per image, even when image stems collide."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import torch

from handpose.cli import main
from handpose.commands.predict_files import output_names
from handpose.config import DataConfig, to_dict
from handpose.export import sample_crops
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model


def test_unique_stems_keep_their_stem() -> None:
    assert output_names([Path("x/a.jpg"), Path("x/b.png")]) == ["a", "b"]


def test_colliding_stems_keep_their_extension() -> None:
    paths = [Path(n) for n in ("a.jpg", "a.png", "A.bmp", "a_jpg.png", "b.jpg")]
    names = output_names(paths)
    # a.jpg's natural name a_jpg belongs to the file a_jpg.png, so it gets a counter
    assert names == ["a_jpg_2", "a_png", "A_bmp", "a_jpg", "b"]
    assert len({n.lower() for n in names}) == len(names)


def test_predict_folder_with_colliding_stems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(5)
    weights = tmp_path / "tiny.safetensors"
    save_weights(build_model("tiny"), weights, metadata={"data_config": json.dumps(to_dict(DataConfig(input_size=64)))})
    folder = tmp_path / "images"
    folder.mkdir()
    crops = sample_crops(64, 3, seed=9)
    files = {"a.jpg": crops[0], "a.png": crops[1], "b.png": crops[2]}
    for name, img in files.items():
        cv2.imwrite(str(folder / name), cv2.resize(img, (80, 60)))
    out = tmp_path / "out"
    assert main(["predict", "--model", str(weights), str(folder), "--out", str(out), "--no-maps"]) == 0
    capsys.readouterr()
    expected = {"a_jpg": "a.jpg", "a_png": "a.png", "b": "b.png"}
    per_image = sorted(p.name for p in out.glob("*.json") if not p.name.startswith("coco_"))  # + the run's COCO files
    assert per_image == sorted(f"{n}.json" for n in expected) and (out / "coco_results.json").is_file()
    for name, image in expected.items():
        assert Path(json.loads((out / f"{name}.json").read_text())["image"]).name == image
        assert (out / f"{name}_overlay.png").is_file()
