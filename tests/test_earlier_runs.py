"""Training run folders written by earlier versions, used with today's ``handpose train``.

The first versions (2026-11-23 to 2026-11-27) wrote a ``config.json`` without ``task`` (and the other settings added
since: ``detector``, ``keypoint_order``, ``negatives``, ``overwrite``) and checkpoints whose model config has no
``output_stride``. Such a folder is built here from a run of today's code by taking those keys out again, which is
what the earlier code wrote (its files differ from today's in those keys alone).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

from handpose.cli import main
from handpose.model.artifact import load_checkpoint
from handpose.training.checkpoints import list_checkpoints
from handpose.training.run_folder import run_files

TINY = ["--preset", "tiny", "--input-size", "64", "--batch-size", "4", "--val-every", "0", "--workers", "0",
        "--device", "cpu", "--threads", "1", "--no-amp", "--log-every", "1", "--ckpt-every", "2"]
LATER_SETTINGS = ("task", "detector", "keypoint_order", "negatives", "overwrite", "split_rule")  # not in 11-23 files
LATER_MODEL_FIELDS = ("output_stride",)  # not in 2026-11-23's ModelConfig


def _as_first_version(run: Path, **as_typed: str) -> None:
    """Rewrite ``run``'s config.json and checkpoints as the 2026-11-23 version wrote them; ``as_typed``: settings
    recorded as typed (``data="hands"``: before 2026-12-06 a relative --data was stored relative)."""
    config = json.loads((run / "config.json").read_text())
    for key in LATER_SETTINGS:
        config.pop(key)
    for key in LATER_MODEL_FIELDS:
        config["model"].pop(key)
    (run / "config.json").write_text(json.dumps({**config, **as_typed}, indent=1))
    for path in list_checkpoints(run / "checkpoints"):
        state = load_checkpoint(path)
        for key in LATER_SETTINGS:
            state["train_config"].pop(key)
        for key in LATER_MODEL_FIELDS:
            state["model_config"].pop(key)
            state["train_config"]["model"].pop(key)
        for key in ("environment", "schedule_stretches"):  # neither was written then
            state.pop(key, None)
        state["train_config"].update(as_typed)
        buffer = io.BytesIO()
        torch.save(state, buffer)
        path.write_bytes(buffer.getvalue())


def test_a_first_version_run_folder_is_a_run_and_resumes(
        synth_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["-q", "train", "--data", str(synth_data), "--out", str(run), *TINY,
                 "--max-steps", "4", "--stop-at-step", "2"]) == 0
    _as_first_version(run)
    assert run / "config.json" in run_files(run)  # the run's own, not a user's config.json

    assert main(["-q", "train", "--resume", str(run), "--workers", "0", "--threads", "1"]) == 0, \
        capsys.readouterr().err
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["ckpt-00000002.pt", "ckpt-00000004.pt"]
    assert load_checkpoint(run / "checkpoints" / "ckpt-00000004.pt")["step"] == 4

    capsys.readouterr()
    assert main(["-q", "train", "--data", str(synth_data), "--out", str(run), *TINY, "--max-steps", "1"]) == 2
    assert "already holds a training run" in capsys.readouterr().err  # --resume and --overwrite offered


def test_a_relative_data_path_an_earlier_version_recorded_is_read_where_the_run_started(
        synth_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``train --data hands --out runs/a`` typed in a project folder recorded "hands" and "runs/a": resumed from
    another folder, the run reads the project's hands (it looked for them under the folder it was resumed from)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "hands").symlink_to(synth_data, target_is_directory=True)
    monkeypatch.chdir(project)
    assert main(["-q", "train", "--data", "hands", "--out", "runs/a", *TINY, "--max-steps", "4",
                 "--stop-at-step", "2"]) == 0
    run = project / "runs" / "a"
    _as_first_version(run, data="hands", out="runs/a")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "hands").mkdir(parents=True)  # another folder of that name: not the run's data
    monkeypatch.chdir(elsewhere)
    assert main(["-q", "train", "--resume", str(run), "--workers", "0", "--threads", "1"]) == 0, \
        capsys.readouterr().err
    assert load_checkpoint(run / "checkpoints" / "ckpt-00000004.pt")["train_config"]["data"] == str(project / "hands")


def test_a_run_from_before_the_image_split_resumes_on_its_hand_by_hand_split(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Until 2026-12-06 the hash split took hand by hand; a run then on a COCO json of two hands an image, resumed on
    today's split by image, validated on hands it had trained on and trained on hands it had held out. Its
    checkpoints (no ``split_rule``, no ``schedule_stretches``) resume on the split it started with."""
    from test_data_helpers import write_coco

    from handpose.data.formats import load_splits
    from handpose.data.split import is_val

    coco = write_coco(tmp_path / "coco" / "hands.json", tmp_path / "coco" / "images", 24)
    doc = json.loads(coco.read_text())
    doc["annotations"] += [{**a, "id": a["id"] + 500} for a in doc["annotations"]]  # a second hand on each image
    coco.write_text(json.dumps(doc))
    hands = load_splits(coco, val_fraction=0.3, workers=0)
    by_hand = {s.key for s in hands.train + hands.val if is_val(s.key, 0.3)}  # the hash of the whole key
    assert by_hand != {s.key for s in hands.val}  # the two rules hold out other hands of this json

    run = tmp_path / "run"
    assert main(["-q", "train", "--data", str(coco), "--out", str(run), *TINY, "--val-fraction", "0.3",
                 "--max-steps", "4", "--stop-at-step", "2"]) == 0
    _as_first_version(run)
    assert main(["-q", "train", "--resume", str(run), "--workers", "0", "--threads", "1"]) == 0, \
        capsys.readouterr().err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["val_samples"] == len(by_hand) and summary["train_samples"] == 2 * 24 - len(by_hand)
    assert load_checkpoint(run / "checkpoints" / "ckpt-00000004.pt")["train_config"]["split_rule"] == 0
