"""``handpose train --data FOLDER`` where FOLDER links to several datasets in different formats: all their samples
train together, each dataset split its own way, and the run resumes from its stored settings."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from handpose.config import DataConfig, TrainConfig
from handpose.data.crop import sample_box
from handpose.data.formats import load_splits
from handpose.data.formats.several import SEVERAL, find_datasets, is_several, load_several
from handpose.model.cpm import preset
from handpose.training.trainer import train


def _coco_copy(samples: list, path: Path) -> Path:
    """A COCO json (named *_val, so it is all validation) of some rendered hands, images where they are."""
    images, annotations = [], []
    for i, s in enumerate(samples):
        images.append({"id": i, "file_name": str(s.image_path), "width": 96, "height": 96})
        annotations.append({"id": i, "image_id": i, "category_id": 1, "bbox": [float(v) for v in sample_box(s)],
                            "keypoints": [float(v) for v in s.keypoints.reshape(-1)], "is_left": bool(s.is_left)})
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"images": images, "annotations": annotations}))
    return path


@pytest.fixture
def mixed(synth_data: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "renders").symlink_to(synth_data, target_is_directory=True)
    renders = load_splits(synth_data)
    _coco_copy((renders.train + renders.val)[:6], tmp_path / "coco" / "mine_val.json")
    (folder / "mine").symlink_to(tmp_path / "coco", target_is_directory=True)
    return folder


def test_a_folder_of_datasets_reads_as_their_union(mixed: Path, synth_data: Path) -> None:
    assert find_datasets(mixed) == [mixed / "mine", mixed / "renders"]
    assert is_several(mixed) and not is_several(synth_data) and not is_several(mixed / "nothing")
    one = load_splits(synth_data)
    both = load_several(mixed)
    assert both.fmt == SEVERAL
    assert len(both.train) == len(one.train)  # the COCO file is a *_val file: validation only
    assert len(both.val) == len(one.val) + 6
    assert {s.key for s in one.train} == {s.key for s in both.train}
    (mixed.parent / "empty").mkdir()
    with pytest.raises(ValueError, match="no dataset handpose can read"):
        load_several(mixed.parent / "empty")


def test_training_on_a_folder_of_datasets_runs_and_resumes(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cfg = TrainConfig(data=str(mixed), out=str(out), model=preset("tiny"), dataset=DataConfig(input_size=64),
                      batch_size=4, max_steps=4, workers=0, log_every=2, val_every=2, ckpt_every=2, amp=False,
                      warmup_steps=1, lr=1e-3, threads=1, val_limit=None)
    first = train(dataclasses.replace(cfg, stop_at_step=2))
    assert first["stopped"] == "stop_at_step"
    stored = json.loads((out / "config.json").read_text())
    assert stored["data"] == str(mixed) and stored["data_format"] is None  # read as a folder again on resume
    n_val = len(load_several(mixed).val)
    assert first["val_samples"] == n_val
    second = train(dataclasses.replace(cfg, resume=str(out)))
    assert second["stopped"] == "completed" and second["step"] == 4
    assert (out / "best.safetensors").is_file()


def test_skip_reports_of_several_datasets_add_up() -> None:
    from handpose.data.skip_report import SkipReport

    a, b = SkipReport(keep=2), SkipReport()
    a.add("bad box", "a.json#1")
    for i in range(3):
        b.add("bad box", f"b.json#{i}")
    b.add("no keypoints", "b.json#9")
    a.merge(b)
    assert a.counts == {"bad box": 4, "no keypoints": 1} and a.total == 5
    assert a.examples["bad box"] == ["a.json#1", "b.json#0"]  # at most `keep` examples per reason
    assert a.examples["no keypoints"] == ["b.json#9"]
