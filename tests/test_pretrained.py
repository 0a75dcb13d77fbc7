"""The models shipped in the package: they load with no download, keep their recorded figures on a small fixed
set of renders checked in beside this file, and serve `predict` without --model and `train --init pretrained:lite`."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from handpose import pretrained
from handpose.cli import main
from handpose.inference.predictor import Predictor
from handpose.inference.refine import RefineConfig
from handpose.model import artifact

CHECK = Path(__file__).resolve().parent / "data" / "pretrained_check"
EXPECTED = json.loads((CHECK / "expected.json").read_text())


def test_shipped_files_load_as_their_tasks() -> None:
    kp = artifact.load_model(pretrained.path("lite"))
    det = artifact.load_model(pretrained.path("detector"), task="detect")
    assert kp.config.preset == "lite" and det.config.preset == "detect"
    assert all(p.dtype == torch.float32 for p in kp.parameters())  # stored as float16, rebuilt in float32
    meta = artifact.read_metadata(pretrained.path("lite"))
    assert meta["renderer_version"] and meta["source"]
    assert artifact.load_model("pretrained:lite").config == kp.config


def test_unknown_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ValueError, match="the shipped models are detector, detector-onnx, lite, lite-int8"):
        Predictor.from_pretrained("huge")


def test_keypoint_figures_on_the_checked_in_renders() -> None:
    from handpose.evaluate import evaluate

    predictor = Predictor.from_pretrained()
    from handpose.data.formats import load_splits

    splits = load_splits(CHECK / "hands")
    metrics = evaluate(predictor, splits.train + splits.val)
    want = EXPECTED["keypoints"]
    assert metrics["num_samples"] == want["num_samples"]
    for key in ("PCK@0.2", "AUC"):
        assert abs(metrics[key] - want[key]) <= 0.01, (key, metrics[key], want[key])
    assert abs(metrics["EPE"] - want["EPE"]) <= 0.5


def test_int8_export_keeps_the_figures() -> None:
    from handpose.data.formats import load_splits
    from handpose.evaluate import evaluate

    splits = load_splits(CHECK / "hands")
    metrics = evaluate(Predictor.from_pretrained("lite-int8"), splits.train + splits.val)
    assert abs(metrics["PCK@0.2"] - EXPECTED["keypoints"]["PCK@0.2"]) <= 0.02


def test_detector_figures_on_the_checked_in_scenes() -> None:
    from handpose.detection.evaluate import run_detection_eval

    report = run_detection_eval(pretrained.path("detector"), CHECK / "scenes" / "hands_coco.json")
    want = EXPECTED["detector"]
    assert int(report["num_hands"]) == want["num_hands"] and report["scales"] == want["scales"]  # still images' default
    assert abs(report["AP@0.5"] - want["AP@0.5"]) <= 0.01
    refined = run_detection_eval(pretrained.path("detector"), CHECK / "scenes" / "hands_coco.json",
                                 keypoints=pretrained.path("lite"))  # the keypoint network re-boxes and re-scores
    assert refined["refine"]["passes"] == RefineConfig().passes and int(refined["num_hands"]) == want["num_hands"]
    assert abs(refined["AP@0.5"] - want["refined_AP@0.5"]) <= 0.02


def test_predict_without_model_uses_the_shipped_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from handpose.detection.coco import read_detection_images
    from handpose.detection.metrics import box_iou

    image = sorted((CHECK / "scenes" / "images").glob("*.jpg"))[0]
    (labels,) = [im for im in read_detection_images(CHECK / "scenes" / "hands_coco.json") if im.path.name == image.name]
    assert main(["predict", str(image), "--out", str(tmp_path), "--no-maps"]) == 0
    record = json.loads((tmp_path / f"{image.stem}.json").read_text())
    assert pretrained.MODELS["lite"][0] in record["model"]
    hands = record["hands"]  # found by the shipped detector, refined by the shipped keypoint model
    threshold = RefineConfig().hand_threshold
    assert hands and all(h["detector_score"] is not None and h["score"] >= threshold for h in hands)
    found = box_iou(np.array([h["box"] for h in hands]), labels.boxes.astype(np.float64))  # (found, labelled)
    assert found.max() >= 0.5  # at least one of the picture's hands
    out = tmp_path / "whole"
    assert main(["predict", str(image), "--out", str(out), "--no-maps", "--detector", "none"]) == 0
    (whole,) = json.loads((out / f"{image.stem}.json").read_text())["hands"]  # no detector: the whole image
    assert whole["score"] is None
    assert Predictor.from_pretrained().detector is not None
    assert Predictor.from_pretrained(detector=None).detector is None


def test_training_can_start_from_the_shipped_model(tmp_path: Path, synth_data: Path) -> None:
    from dataclasses import replace

    from handpose.config import DataConfig, TrainConfig
    from handpose.model.cpm import preset
    from handpose.training import train

    cfg = TrainConfig(data=str(synth_data), out=str(tmp_path / "run"), model=replace(preset("lite"), input_size=64),
                      dataset=DataConfig(input_size=64), init="pretrained:lite", batch_size=2, max_steps=1,
                      lr=1e-12, warmup_steps=0, workers=0, val_every=0, amp=False, threads=1)
    train(cfg)
    trained = artifact.load_model(tmp_path / "run" / "model.safetensors")
    shipped = artifact.load_model(pretrained.path("lite"))
    for (name, a), b in zip(trained.named_parameters(), shipped.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)


@pytest.mark.slow
def test_the_wheel_carries_the_weights(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("handpose-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for name, (file, _) in pretrained.MODELS.items():
        shipped = f"handpose/pretrained/{file}" in names
        assert shipped == (name != pretrained.DETECTOR_ONNX), name  # made at first use, not shipped
    assert "handpose/py.typed" in names  # PEP 561: a user's type checker reads the package's hints


def test_the_detector_onnx_is_made_at_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from handpose.data.transforms import to_network_input
    from handpose.detection.onnx_export import detector_parity
    from handpose.export import sample_crops

    assert not (pretrained.FOLDER / pretrained.MODELS["detector-onnx"][0]).exists()  # not in the package
    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path / "cache"))
    made = pretrained.path("pretrained:detector-onnx")
    assert made.parent == tmp_path / "cache" / "pretrained" and made.name.startswith("hand_detector-")
    stamp = made.stat().st_mtime_ns
    assert pretrained.path("detector-onnx") == made and made.stat().st_mtime_ns == stamp  # made once, then reused
    model = artifact.load_model(pretrained.path("detector"), task="detect")
    assert detector_parity(model, made, [to_network_input(sample_crops(320, 1))]) < 1e-4  # PyTorch's maps
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path / "file" / "cache"))  # a cache that cannot be made
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    fallback = pretrained.path("detector-onnx")
    assert fallback.parent.parent == tmp_path / "tmp" and fallback.read_bytes() == made.read_bytes()
    import os

    os.chmod(fallback.parent, 0o777)  # a folder others may write in: a model placed there is not run
    with pytest.raises(OSError, match="not a folder of this user's alone"):
        pretrained.path("detector-onnx")


def test_an_export_that_fails_its_parity_check_leaves_nothing_behind(tmp_path: Path) -> None:
    """The ONNX file takes its name only after its maps match PyTorch's: a rejected export is not found later as a
    cached or earlier file."""
    from handpose.detection.model import build_detector
    from handpose.detection.onnx_export import export_detector_onnx

    out = tmp_path / "det.onnx"
    out.write_bytes(b"an earlier file")
    with pytest.raises(RuntimeError, match="nothing was written there"):
        export_detector_onnx(build_detector().eval(), out, tolerance=-1.0)  # no file can pass
    assert out.read_bytes() == b"an earlier file" and sorted(p.name for p in tmp_path.iterdir()) == ["det.onnx"]
