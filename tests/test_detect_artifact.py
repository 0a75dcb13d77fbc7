"""Detector weight files: rebuilt from the file alone, and a file of the other task named as such."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fixture_types import TinyCpm

from handpose.config import DetectorConfig, TrainConfig, to_dict
from handpose.detection.detector import HandDetector
from handpose.detection.model import build_detector
from handpose.model import artifact

CFG = DetectorConfig(width=0.25, backbone_repeats=1, neck_channels=16, head_channels=16, input_size=64,
                     score_threshold=0.0)


def _shaken(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_detector(CFG).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.1)
    return model


@pytest.mark.slow  # measured 1.3 s (mostly the first convolutions of the process)
def test_a_detector_is_rebuilt_from_its_safetensors_file(tmp_path: Path) -> None:
    model = _shaken()
    path = tmp_path / "det.safetensors"
    artifact.save_weights(model, path)
    assert artifact.read_metadata(path)[artifact.TASK_KEY] == "detect"
    assert artifact.read_task(path) == "detect"
    loaded = artifact.load_model(path, task="detect")
    assert loaded.config == CFG
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    assert type(artifact.load_model(path, task=None)).__name__ == "HandDetectorNet"
    image = np.random.default_rng(0).integers(0, 255, size=(48, 80, 3), dtype=np.uint8)
    one, two = HandDetector.from_model(model).detect(image), HandDetector.from_file(path).detect(image)
    assert len(one) == len(two) > 0
    np.testing.assert_allclose([d.box for d in one], [d.box for d in two], atol=1e-4)


def test_the_wrong_task_is_named(tmp_path: Path, tiny_cpm: TinyCpm) -> None:
    det, cpm = tmp_path / "det.safetensors", tmp_path / "cpm.safetensors"
    artifact.save_weights(_shaken(), det)
    artifact.save_weights(tiny_cpm(0), cpm)
    assert artifact.read_metadata(cpm)[artifact.TASK_KEY] == "keypoints"
    with pytest.raises(ValueError, match=r"det\.safetensors is a hand detector, not a keypoint model"):
        artifact.load_model(det)
    with pytest.raises(ValueError, match=r"cpm\.safetensors is a keypoint model, not a hand detector"):
        HandDetector.from_file(cpm)
    assert type(artifact.load_model(cpm)).__name__ == "CPM"  # keypoint files load as before


def test_a_training_checkpoint_names_its_task_through_its_train_config(tmp_path: Path) -> None:
    model = _shaken()
    path = tmp_path / "ckpt-1.pt"
    cfg = TrainConfig(task="detect", detector=CFG)
    torch.save({"model": model.state_dict(), "model_config": to_dict(CFG), "train_config": to_dict(cfg)}, path)
    assert artifact.read_task(path) == "detect"
    assert artifact.load_model(path, task="detect").config == CFG
    with pytest.raises(ValueError, match="is a hand detector, not a keypoint model"):
        artifact.load_model(path)


def test_a_bad_stored_detector_config_names_the_field(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    model = _shaken()
    path = tmp_path / "bad.safetensors"
    meta = {"model_config": '{"input_size": 70}', "task": "detect"}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata=meta)
    with pytest.raises(ValueError, match=r"bad\.safetensors.*DetectorConfig\.input_size = 70: must be a multiple"):
        artifact.load_model(path, task="detect")


def test_a_shipped_model_of_the_wrong_task_is_named_as_the_user_gave_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import cv2

    from handpose.cli import main

    image = tmp_path / "x.png"
    cv2.imwrite(str(image), np.zeros((20, 20, 3), np.uint8))
    assert main(["predict", str(image), "--model", "pretrained:detector", "--box", "0,0,10,10", "--out",
                 str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--model: pretrained:detector is a hand detector, not a keypoint model" in err
    assert "hand_detector.safetensors" not in err  # not the file's place inside the installed package
