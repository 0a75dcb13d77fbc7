"""`handpose predict` on a folder keeps no image's COCO results once the image is done: they go to disk as it goes
(``commands/predict_coco_stream``), so a folder of 100,000 images does not hold 100,000 images' results in memory
(kept in a list they grew the process by about 3.3 kB an image, and writing them at the end took more)."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import cv2
import pytest

from handpose.cli import main
from handpose.commands import predict_files
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model

IMAGES = 12


def live_coco_results() -> int:
    """How many COCO keypoint results (``inference.results.coco_result``'s dicts) the process holds now."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is dict and "keypoints" in o and "image_id" in o
               and "bbox" in o)


def test_a_folder_run_holds_only_the_image_in_hand(tmp_path: Path, synth_data: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "tiny.safetensors"
    save_weights(build_model("tiny"), weights)
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in sorted(synth_data.rglob("*.jpg"))[:IMAGES]:
        cv2.imwrite(str(photos / path.name), cv2.resize(cv2.imread(str(path)), (48, 48)))
    held: list[int] = []
    real = predict_files.predict_to_files

    def counted(*args: Any, **kwargs: Any) -> list[Path]:
        written = real(*args, **kwargs)
        held.append(live_coco_results())  # after each image: its own results, and any kept from earlier ones
        return written

    monkeypatch.setattr(predict_files, "predict_to_files", counted)
    before = live_coco_results()
    out = tmp_path / "out"
    assert main(["predict", str(photos), "--model", str(weights), "--detector", "none", "--right", "--no-maps",
                 "--threads", "1", "--out", str(out)]) == 0
    assert len(held) == IMAGES and max(held) - before <= 1, held  # one image's one hand at most, not one per image
    results = json.loads((out / "coco_results.json").read_text())
    images = json.loads((out / "coco_images.json").read_text())
    assert [r["image_id"] for r in results] == list(range(IMAGES)) and {r["category_id"] for r in results} == {1}
    assert [Path(im["file_name"]).name for im in images["images"]] == sorted(p.name for p in photos.iterdir())
    assert images["categories"][0]["name"] == "hand" and len(images["categories"][0]["keypoints"]) == 21
    assert not [p.name for p in out.iterdir() if ".tmp-" in p.name]  # the streamed lines' temporaries are gone
