"""The ONNX files handpose writes run in OpenCV's DNN module too (``cv2.dnn.readNetFromONNX``, what a C++ or OpenCV-only
deployment loads), giving onnxruntime's outputs: the keypoint model in float32 and in the shipped int8 file, and the
detector at its own input size and at another multiple of 32 (README, "Running an exported keypoint model without
handpose")."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from handpose import pretrained

pytestmark = pytest.mark.slow  # an export of the keypoint model and the detector's (2.4 s on 2 cores)


def _both(path: Path, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(OpenCV's outputs, onnxruntime's outputs) of the file at ``path`` on the input ``x``, in the graph's order."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    net = cv2.dnn.readNetFromONNX(str(path))
    net.setInput(x)
    found = net.forward(names)
    return list(found), session.run(names, {session.get_inputs()[0].name: x})


@pytest.fixture(scope="module")
def lite_fp32(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from handpose.export import export_onnx
    from handpose.model.artifact import load_model

    out = tmp_path_factory.mktemp("onnx") / "lite.onnx"
    export_onnx(load_model(pretrained.resolve("pretrained:lite")), out)
    return out


@pytest.mark.parametrize("which", ["fp32", "int8"])
def test_keypoint_model_runs_in_opencv_as_in_onnxruntime(lite_fp32: Path, which: str) -> None:
    path = lite_fp32 if which == "fp32" else pretrained.resolve("pretrained:lite-int8")
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 3, 128, 128)).astype(np.float32)  # (N, 3, S, S) crops
    found, expected = _both(Path(path), x)
    assert found[0].shape == expected[0].shape == (2, 22, 16, 16)
    assert np.abs(found[0] - expected[0]).max() < 1e-4 * max(1.0, float(np.abs(expected[0]).max()))


@pytest.mark.parametrize("size", [(320, 320), (256, 416)])
def test_detector_runs_in_opencv_as_in_onnxruntime(size: tuple[int, int]) -> None:
    x = np.random.default_rng(2).uniform(-0.5, 0.5, (1, 3, *size)).astype(np.float32)  # a letterboxed image
    found, expected = _both(pretrained.detector_onnx(), x)
    assert [f.shape for f in found] == [e.shape for e in expected]
    assert expected[0].shape == (1, 1, size[0] // 4, size[1] // 4)  # the centre heatmap at stride 4
    for f, e in zip(found, expected):
        assert np.abs(f - e).max() < 1e-4 * max(1.0, float(np.abs(e).max()))
