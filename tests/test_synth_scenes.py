"""Detection scenes: several hands per image, boxes around their visible keypoints, a COCO json handpose reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handpose.cli import main
from handpose.data.formats import read_samples
from handpose.synth.scenes import JSON_NAME, write_scenes


def test_scenes_json_boxes_and_the_coco_reader(tmp_path: Path) -> None:
    folder = write_scenes(tmp_path, 8, seed=3, width=320, height=240)
    doc = json.loads((folder / JSON_NAME).read_text())
    assert len(doc["images"]) == 8 and doc["categories"][0]["name"] == "hand"
    assert len(doc["categories"][0]["keypoints"]) == 21
    counts = np.bincount([a["image_id"] for a in doc["annotations"]], minlength=8)
    assert counts.max() >= 2 and counts.max() <= 4
    for a in doc["annotations"]:
        k = np.array(a["keypoints"], float).reshape(21, 3)
        vis = k[k[:, 2] > 0, :2]
        assert len(vis) == a["num_keypoints"] > 0
        x, y, w, h = a["bbox"]
        assert w > 0 and h > 0 and 0 <= x and x + w <= 320 and 0 <= y and y + h <= 240
        assert np.all((vis[:, 0] >= x) & (vis[:, 0] <= x + w) & (vis[:, 1] >= y) & (vis[:, 1] <= y + h))
        assert a["is_left"] in (0, 1) and a["handedness"] == ("left" if a["is_left"] else "right")
    tagged, fmt, report = read_samples(folder)
    assert fmt == "coco" and len(tagged) == len(doc["annotations"]) and not report
    by_key = {s.key: s for s, _ in tagged}
    for a in doc["annotations"]:
        s = by_key[f"{a['image_id']:08d}.jpg#{a['id']}"]
        assert s.is_left == bool(a["is_left"]) and np.allclose(s.box, a["bbox"])
        assert s.image_path.is_file()


def test_scenes_cli_and_determinism(tmp_path: Path) -> None:
    args = ["synth", "--scenes", "--count", "2", "--seed", "1", "--scene-size", "160x120"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    for name in ("images/00000000.jpg", "images/00000001.jpg", JSON_NAME):
        assert (tmp_path / "a" / "scenes" / name).read_bytes() == (tmp_path / "b" / "scenes" / name).read_bytes()
    with pytest.raises(SystemExit) as exit_info:  # argparse: usage and one error line
        main(args[:-1] + ["160by120", "--out", str(tmp_path / "c")])
    assert exit_info.value.code == 2
