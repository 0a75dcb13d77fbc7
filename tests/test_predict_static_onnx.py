"""ONNX files with a fixed input shape: batches and flip test run a chunk at a time; other sizes fail clearly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from fixture_types import TinyCpm

from handpose.cli import main
from handpose.config import DataConfig
from handpose.data.transforms import to_network_input
from handpose.export import export_onnx, sample_crops
from handpose.inference.backends import OnnxBackend
from handpose.inference.predictor import Predictor


@pytest.fixture(scope="module")
def onnx_pair(
    tmp_path_factory: pytest.TempPathFactory, tiny_cpm: TinyCpm
) -> tuple[torch.nn.Module, Path, Path]:
    """The same tiny model exported with dynamic axes and with a static 1 x 3 x 64 x 64 input."""
    model = tiny_cpm(4)
    root = tmp_path_factory.mktemp("static")
    cfg = DataConfig(input_size=64)
    export_onnx(model, root / "dynamic.onnx", cfg)
    export_onnx(model, root / "static.onnx", cfg, dynamic=False)
    return model, root / "dynamic.onnx", root / "static.onnx"


def test_static_file_reports_its_shape(onnx_pair: tuple[torch.nn.Module, Path, Path]) -> None:
    _, dynamic, static = onnx_pair
    assert OnnxBackend(static).input_shape == (1, 3, 64, 64)
    assert OnnxBackend(dynamic).input_shape == (None, 3, None, None)


def test_static_batch_of_one_runs_any_batch(onnx_pair: tuple[torch.nn.Module, Path, Path]) -> None:
    _, dynamic, static = onnx_pair
    x = to_network_input(sample_crops(64, 3, seed=2))  # (3, 3, 64, 64)
    got = OnnxBackend(static)(x)
    ref = OnnxBackend(dynamic)(x)
    assert got.shape == ref.shape == (1, 3, 22, 8, 8)
    assert np.abs(got - ref).max() < 1e-5


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the TorchScript exporter, as export_onnx uses
def test_fixed_batch_of_two_pads_the_last_chunk(onnx_pair: tuple[torch.nn.Module, Path, Path], tmp_path: Path) -> None:
    model, dynamic, _ = onnx_pair
    path = tmp_path / "batch2.onnx"  # a file fixed at batch 2 (export_onnx only writes batch 1)

    class LastStage(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cpm = model

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.cpm(image)[-1]  # (N, 22, H/8, W/8)

    with torch.no_grad():
        torch.onnx.export(
            LastStage().eval(), (torch.zeros(2, 3, 64, 64),), str(path), input_names=["image"],
            output_names=["out"], dynamo=False,
        )
    backend = OnnxBackend(path)
    assert backend.fixed_batch == 2
    x = to_network_input(sample_crops(64, 3, seed=5))  # (3, 3, 64, 64): one full chunk and one padded
    assert np.abs(backend(x) - OnnxBackend(dynamic)(x)).max() < 1e-5


def test_static_predictor_flip_and_batch_match_dynamic(onnx_pair: tuple[torch.nn.Module, Path, Path]) -> None:
    _, dynamic, static = onnx_pair
    images = [cv2.resize(c, (90, 70)) for c in sample_crops(80, 3, seed=7)]
    a = Predictor.from_file(static, flip_test=True).predict_batch(images)
    b = Predictor.from_file(dynamic, flip_test=True).predict_batch(images)
    for ra, rb in zip(a, b):
        assert np.abs(ra.keypoints - rb.keypoints).max() < 1e-3 and np.abs(ra.scores - rb.scores).max() < 1e-5


def test_static_file_other_size_is_a_clear_error(onnx_pair: tuple[torch.nn.Module, Path, Path]) -> None:
    _, _, static = onnx_pair
    with pytest.raises(ValueError, match=r"static\.onnx.*\(1, 3, 64, 64\).*\(2, 3, 48, 48\)"):
        OnnxBackend(static)(np.zeros((2, 3, 48, 48), np.float32))
    with pytest.raises(ValueError, match=r"static\.onnx.*fixed input shape \(1, 3, 64, 64\).*48 x 48"):
        Predictor.from_file(static, scales=(1.0, 0.75))
    with pytest.raises(ValueError, match="fixed input shape"):
        Predictor.from_file(static).with_options(scales=(1.25,))


def test_predict_command_with_static_file(
    onnx_pair: tuple[torch.nn.Module, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, static = onnx_pair
    image = tmp_path / "hand.png"
    cv2.imwrite(str(image), cv2.resize(sample_crops(80, 1)[0], (100, 75)))
    out = tmp_path / "out"
    assert main(["predict", "--model", str(static), str(image), "--flip", "--out", str(out)]) == 0
    assert (out / "hand.json").is_file() and (out / "hand_overlay.png").is_file()
    capsys.readouterr()
    assert main(["predict", "--model", str(static), str(image), "--scales", "1,0.5", "--out", str(out)]) == 2
    assert "fixed input shape" in capsys.readouterr().err


def test_a_static_size_the_flip_test_would_pad_is_refused_at_once(tiny_cpm: TinyCpm,
                                                                   tmp_path: Path) -> None:
    """The flip test pads a 100 px crop to 104 px, which a file fixed at 100 px cannot take: said when the predictor
    is made, not at its first image."""
    export_onnx(tiny_cpm(4), tmp_path / "s100.onnx", DataConfig(input_size=100), dynamic=False)
    plain = Predictor.from_file(tmp_path / "s100.onnx")
    assert plain.predict(np.full((120, 120, 3), 90, np.uint8), box=[10, 10, 60, 60], is_left=False).keypoints.shape == (
        21, 2)
    with pytest.raises(ValueError, match=r"flip test pads each crop to a multiple of 8 px: \[100\] -> \[104\]"):
        Predictor.from_file(tmp_path / "s100.onnx", flip_test=True)
