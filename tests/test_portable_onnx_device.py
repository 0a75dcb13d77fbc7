"""An ONNX model asked to run on a device onnxruntime is not given here (``mps`` on a Mac): handpose runs ONNX models
on the CPU or CUDA only, so it runs on the CPU, and says so once instead of silently."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from handpose import pretrained
from handpose.inference import backends


@pytest.fixture
def fresh_warnings() -> Iterator[None]:
    """The process's record of devices already warned about, emptied before and after."""
    backends._WARNED_DEVICES.clear()
    yield
    backends._WARNED_DEVICES.clear()


def test_mps_onnx_runs_on_the_cpu_with_one_warning(fresh_warnings: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        first = backends.OnnxBackend(pretrained.path("lite-int8"), threads=1, device="mps")
        second = backends.OnnxBackend(pretrained.path("lite-int8"), threads=1, device="mps")
    assert first.device == second.device == "cpu"
    assert first.session.get_providers() == ["CPUExecutionProvider"]
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(said) == 1 and said[0].startswith("device mps:") and "on the CPU" in said[0]


def test_cpu_onnx_says_nothing(fresh_warnings: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert backends.onnx_providers("cpu") == backends.onnx_providers(None) == ["CPUExecutionProvider"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_auto_onnx_says_nothing(fresh_warnings: None, caplog: pytest.LogCaptureFixture) -> None:
    """``device="auto"`` (the Python API's Predictor.from_file, as the PyTorch path takes it) asks for no device in
    particular: running the ONNX model on the CPU is what it was asked, not a device passed over."""
    with caplog.at_level(logging.WARNING):
        backend = backends.OnnxBackend(pretrained.path("lite-int8"), threads=1, device="auto")
    assert backend.device == "cpu"
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
