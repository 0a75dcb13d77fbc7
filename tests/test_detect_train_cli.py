"""The hand detector through the shared training machinery: ``handpose train --task detect`` then
``handpose eval --task detect`` from the command line, with checkpoints, validation, best weights and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handpose.cli import main
from handpose.detection.toy_scenes import write_toy_scenes
from handpose.model import artifact

pytestmark = pytest.mark.slow  # a few seconds of training


def test_train_eval_and_resume_a_detector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_toy_scenes(tmp_path / "scenes", count=24, seed=1)
    run = tmp_path / "run"
    common = ["train", "--task", "detect", "--data", str(data), "--out", str(run), "--input-size", "128",
              "--batch-size", "4", "--val-every", "10", "--ckpt-every", "10", "--log-every", "5", "--workers", "0",
              "--device", "cpu", "--threads", "1", "--no-amp", "--val-images", "1"]
    assert main([*common, "--max-steps", "20", "--stop-at-step", "10"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] == "stop_at_step" and summary["step"] == 10
    assert set(summary["last_validation"]) >= {"AP@0.5", "AP@0.5:0.95", "recall@1FP"}
    assert main(["train", "--resume", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] == "completed" and summary["step"] == 20
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set(EventAccumulator(str(run), size_guidance={"scalars": 0}).Reload().Tags()["scalars"])
    parts = {f"train/loss_{name}" for name in ("heatmap", "size", "offset", "side")}
    assert parts | {"train/loss", "val/AP@0.5"} <= tags, tags
    assert not {"train/heatmap", "train/size", "train/offset", "train/hand"} & tags  # each loss part once
    model = artifact.load_model(run / "model.safetensors", task="detect")
    assert model.config.input_size == 128
    with pytest.raises(ValueError, match="detector"):
        artifact.load_model(run / "model.safetensors")  # a keypoint model was asked for
    capsys.readouterr()
    assert main(["eval", "--task", "detect", "--weights", str(run / "model.safetensors"), "--data", str(data),
                 "--split", "all"]) == 0
    out = capsys.readouterr().out
    assert "AP@0.5" in out and "recall@1FP/img" in out and "no report written" in out


def test_detector_training_reports_its_bad_images_when_it_ends(tmp_path: Path) -> None:
    # it warned at the first bad image ("further ones are counted") and never said how many there were
    import subprocess
    import sys

    data = write_toy_scenes(tmp_path / "scenes", count=12, seed=2)
    for bad in sorted((data.parent / "images").glob("*.png"))[:2]:
        bad.write_bytes(bad.read_bytes()[:200])  # truncated images
    run = subprocess.run([sys.executable, "-m", "handpose", "train", "--task", "detect", "--data", str(data), "--out",
                          str(tmp_path / "run"), "--input-size", "128", "--batch-size", "4", "--max-steps", "6",
                          "--val-every", "0", "--workers", "0", "--device", "cpu", "--threads", "1", "--no-amp"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "skipping bad image" in run.stderr
    summary = [line for line in run.stderr.splitlines() if "images in process" in line]
    assert summary and "corrupt or truncated image" in run.stderr, run.stderr[-2000:]
