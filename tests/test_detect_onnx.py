"""The hand detector in ONNX: `handpose export` of a detector, its int8 file, onnxruntime behind `HandDetector`
giving PyTorch's boxes, files of the other task named, and the shipped detector's runtime chosen by timing."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose import pretrained
from handpose.cli import main
from handpose.detection.coco import read_detection_images
from handpose.detection.detector import HandDetector
from handpose.detection.metrics import box_iou
from handpose.detection.onnx_export import export_detector_onnx
from handpose.detection.onnx_network import OnnxDetectorNetwork
from handpose.detection.runtime_choice import fastest, time_detectors
from handpose.inference.predictor import Predictor
from handpose.model import artifact

SCENES = Path(__file__).resolve().parent / "data" / "pretrained_check" / "scenes" / "hands_coco.json"


def scene_images(count: int = 4) -> list[np.ndarray]:
    items = read_detection_images(SCENES)
    return [cv2.imread(str(item.path)) for item in items[:count]]


def same_detections(a: list, b: list) -> None:
    """The same hands, in the same order, boxes within 0.05 px and scores within 1e-4."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert np.abs(x.box - y.box).max() < 0.05 and abs(x.score - y.score) < 1e-4
        assert abs(x.left_score - y.left_score) < 1e-4


def test_exported_detector_finds_what_pytorch_finds(toy_detector: tuple, tmp_path: Path) -> None:
    model = toy_detector[0]
    report = export_detector_onnx(model, tmp_path / "det.onnx")
    assert report.max_abs_diff < 1e-3 and report.shapes_checked[1][2] != report.shapes_checked[0][2]
    assert artifact.read_task(tmp_path / "det.onnx") == "detect"
    torch_det = HandDetector.from_model(model, threshold=0.05, scales=(1.0, 2.0))
    onnx_det = HandDetector.from_file(tmp_path / "det.onnx", threshold=0.05, scales=(1.0, 2.0))
    assert isinstance(onnx_det.model, OnnxDetectorNetwork) and onnx_det.config == model.config
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), *scene_images(2)]
    found = 0
    for image in images:
        a, b = torch_det.detect(image), onnx_det.detect(image)
        same_detections(a, b)
        found += len(a)
    assert found > 0  # the comparison saw boxes, not only empty lists


def test_shipped_onnx_is_the_shipped_detector() -> None:
    torch_det = HandDetector.from_file(pretrained.path("detector"), scales=(1.0, 2.0))
    onnx_det = HandDetector.from_file("pretrained:detector-onnx", scales=(1.0, 2.0))
    total = 0
    for image in scene_images(4):
        a, b = torch_det.detect(image), onnx_det.detect(image)
        same_detections(a, b)
        total += len(a)
    assert total > 0


def test_files_of_the_other_task_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a hand detector, not a keypoint model"):
        Predictor.from_file(pretrained.path("detector-onnx"))
    with pytest.raises(ValueError, match="is a keypoint model, not a hand detector"):
        HandDetector.from_file(pretrained.path("lite-int8"))
    with pytest.raises(ValueError, match="is a keypoint model, not a hand detector"):
        OnnxDetectorNetwork(pretrained.path("lite-int8"))


def test_runtime_choice_keeps_the_faster_and_the_same_boxes() -> None:
    torch_det = HandDetector.from_file(pretrained.path("detector"))
    onnx_det = HandDetector.from_file(pretrained.path("detector-onnx"))
    chosen, seconds = fastest([torch_det, onnx_det], ["PyTorch", "onnxruntime"])
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
    assert chosen is [torch_det, onnx_det][int(np.argmin(seconds))]
    assert all(s > 0 for s in time_detectors([chosen], rounds=1))
    shipped = HandDetector.from_file("pretrained:detector", scales=(1.0,))
    assert type(shipped.model).__name__ in ("HandDetectorNet", "OnnxDetectorNetwork")
    for image in scene_images(2):
        same_detections(shipped.detect(image), torch_det.detect(image))


def test_export_command_writes_a_detector_and_its_int8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "det.onnx"
    code = main(["export", "--weights", "pretrained:detector", "--out", str(out), "--int8", "--calib-data",
                 str(SCENES), "--calib-count", "6"])
    text = capsys.readouterr().out
    assert code in (0, None) and out.is_file() and (tmp_path / "det_int8.onnx").is_file()
    assert "hand detector" in text and "boxes found again" in text
    meta = artifact.read_onnx_metadata(tmp_path / "det_int8.onnx")
    assert meta["task"] == "detect" and "letterboxed images" in meta["int8"]
    assert json.loads(meta["model_config"])["preset"] == "detect"
    int8 = HandDetector.from_file(tmp_path / "det_int8.onnx")
    fp32 = HandDetector.from_file(out)
    items = read_detection_images(SCENES)
    hits = 0
    for item in items[:6]:
        image = cv2.imread(str(item.path))
        a, b = fp32.detect(image), int8.detect(image)
        if a and b:
            hits += int((box_iou(np.array([d.box for d in a]), np.array([d.box for d in b])).max(1) >= 0.5).sum())
    assert hits > 0  # int8 still finds boxes where fp32 does
    code = main(["export", "--weights", "pretrained:detector", "--out", str(out)])
    assert code == 2 and "already exist" in capsys.readouterr().err



def test_export_int8_of_a_detector_counts_one_held_out_image_as_one(
    tmp_path: Path, realdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # MMPose's CMU file lists 4 files, 2 pictures (each frame's _l / _r copies are one): 1 calibrates, 1 is held out
    code = main(["export", "--weights", "pretrained:detector", "--out", str(tmp_path / "det.onnx"), "--int8",
                 "--calib-data", str(realdata / "coco_panoptic" / "test_panoptic.json"), "--calib-count", "1"])
    text = capsys.readouterr().out
    assert code in (0, None)
    assert "calibrated on 1 letterboxed image from" in text and "int8 vs fp32 on 1 held-out image:" in text


def test_runtime_choice_is_timed_once_then_read_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    from handpose.autotune.choice import cache_path, read_cache
    from handpose.detection import runtime_choice

    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path))
    # the machine counts as quiet: what is tested is the cache (on a busy one a choice is not cached, by design:
    # tests/test_autotune_contention.py), and other jobs on a shared machine must not fail this test
    monkeypatch.setattr(runtime_choice, "start_meter", lambda: (lambda: 0.0))
    with caplog.at_level("INFO", logger="handpose.detection.runtime_choice"):
        first = HandDetector.from_file("pretrained:detector", scales=(1.0,))
        assert "measured on this machine" in caplog.text
        entries = read_cache(cache_path())
        assert len(entries) == 1 and "detector runtime" in next(iter(entries))
        caplog.clear()
        second = HandDetector.from_file("pretrained:detector", scales=(1.0,))
        assert "from the speed-trial cache" in caplog.text and "measured on this machine" not in caplog.text
    assert type(first.model) is type(second.model)
    caplog.clear()
    with caplog.at_level("INFO", logger="handpose.detection.runtime_choice"):
        HandDetector.from_file("pretrained:detector", scales=(1.0, 2.0))  # other scales: a trial of their own
    assert "measured on this machine" in caplog.text and len(read_cache(cache_path())) == 2
