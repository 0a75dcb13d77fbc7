"""Batch norm folded into its conv for inference: the same maps and keypoints, the caller's network never changed,
training-mode batch norms and convs without one left alone, and the inference path (Predictor / HandDetector from
a file, autotune's trials, bf16 / channels-last, the ONNX export) running the folded copy."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from handpose.autotune import resolve
from handpose.autotune.choice import Choice
from handpose.config import DataConfig, DetectorConfig, to_dict
from handpose.data.codec import HeatmapCodec
from handpose.detection.detector import HandDetector
from handpose.detection.model import build_detector
from handpose.export import export_onnx, sample_crops
from handpose.inference.backends import TorchBackend
from handpose.inference.predictor import Predictor
from handpose.model.artifact import save_weights
from handpose.model.blocks import ConvBNReLU
from handpose.model.cpm import build_model, preset
from handpose.model.fold_batch_norm import fold_pair, foldable, folded

SMALL_DETECTOR = DetectorConfig(width=0.25, backbone_repeats=1, neck_channels=16, head_channels=16, input_size=64)


def batch_norms(model: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def trained_statistics(model: nn.Module, seed: int) -> nn.Module:
    """``model`` in eval mode with batch-norm statistics and affine terms far from the identity they start at."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)
    return model.eval()


def network_input(batch: int, side: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, side, side, generator=g) - 0.5  # (N, 3, S, S) the network's input range


@pytest.mark.parametrize("name", ["lite", "tiny"])
def test_folded_keypoint_maps_and_keypoints_equal_the_unfolded(name: str) -> None:
    torch.manual_seed(0)
    model = trained_statistics(build_model(name), 1)
    fold = folded(model)
    assert batch_norms(fold) == 0
    x = network_input(2, 64)
    with torch.inference_mode():
        want, got = model(x), fold(x)  # S x (N, 22, 8, 8)
    assert len(want) == len(got) == model.config.stages
    for a, b in zip(want, got):
        assert float((a - b).abs().max()) < 1e-4
    codec = HeatmapCodec(64, 8)
    kp_a, kp_b = codec.decode(want[-1].numpy())[0], codec.decode(got[-1].numpy())[0]  # (N, 21, 2) crop px
    assert np.abs(kp_a - kp_b).max() < 0.01


def test_folded_detector_maps_equal_the_unfolded() -> None:
    torch.manual_seed(0)
    model = trained_statistics(build_detector(SMALL_DETECTOR), 2)
    fold = folded(model)
    assert batch_norms(model) > 0 and batch_norms(fold) == 0
    x = network_input(2, 64)
    with torch.inference_mode():
        want, got = model(x), fold(x)  # each (N, C, 16, 16)
    assert sorted(want) == sorted(got)
    for k in want:
        assert float((want[k] - got[k]).abs().max()) < 1e-4, k


def test_the_given_network_is_never_changed() -> None:
    model = trained_statistics(build_model("lite"), 3)
    before = copy.deepcopy(model.state_dict())
    fold = folded(model)
    assert fold is not model and batch_norms(model) == batch_norms(build_model("lite"))
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_training_mode_batch_norm_and_convs_without_one_are_left_alone() -> None:
    model = trained_statistics(build_model("lite"), 4).train()
    assert folded(model) is model  # batch statistics at work: nothing to fold
    held = model.backbone[0]  # the stem: its batch norm held in eval mode (frozen) while the rest trains
    held.bn.eval()
    fold = folded(model)
    assert isinstance(fold.backbone[0].bn, nn.Identity)
    assert batch_norms(fold) == batch_norms(model) - 1  # the training ones kept
    assert torch.equal(fold.conv5_3_CPM.weight, model.conv5_3_CPM.weight)  # a conv with no batch norm after it
    assert torch.equal(fold.conv5_3_CPM.bias, model.conv5_3_CPM.bias)
    vgg = build_model("tiny").eval()
    assert folded(vgg) is vgg  # no batch norm at all: the network itself, no copy


def test_fold_pair_keeps_a_conv_bias_and_the_block_rule() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=True)
    bn = trained_statistics(nn.Sequential(nn.BatchNorm2d(5)), 5)[0]
    x = torch.randn(2, 3, 7, 7)
    with torch.inference_mode():
        assert float((fold_pair(conv, bn)(x) - bn(conv(x))).abs().max()) < 1e-5
    assert not foldable(nn.Sequential(conv, bn))  # only ConvBNReLU, whose forward runs conv into bn
    assert foldable(ConvBNReLU(3, 5).eval()) and not foldable(ConvBNReLU(3, 5).train())


@pytest.fixture(scope="module")
def lite_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[nn.Module, Path]:
    torch.manual_seed(0)
    model = trained_statistics(build_model(preset("lite")), 6)
    path = tmp_path_factory.mktemp("fold") / "lite.safetensors"
    save_weights(model, path, metadata={"data_config": json.dumps(to_dict(DataConfig(input_size=64)))})
    return model, path


def test_predictor_from_file_runs_the_folded_copy(lite_weights: tuple[nn.Module, Path]) -> None:
    model, path = lite_weights
    loaded = Predictor.from_file(path)
    given = Predictor.from_model(model, DataConfig(input_size=64))
    assert isinstance(loaded.backend, TorchBackend) and batch_norms(loaded.backend.model) == 0
    assert given.backend.model is model and batch_norms(model) > 0  # a network from Python: run as it is
    image = sample_crops(96, 1)[0]
    a, b = loaded.predict(image, box=(10, 8, 70, 70)), given.predict(image, box=(10, 8, 70, 70))
    assert np.abs(a.stage_maps - b.stage_maps).max() < 1e-4
    assert np.abs(a.keypoints - b.keypoints).max() < 0.01


def test_autotune_times_and_runs_the_folded_model(lite_weights: tuple[nn.Module, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    model, path = lite_weights
    timed: list[nn.Module] = []

    def pick_bf16_channels_last(net: nn.Module, *args: object) -> Choice:
        timed.append(net)
        return Choice("bf16", True)

    monkeypatch.setattr(resolve, "inference_choice", pick_bf16_channels_last)
    crops = np.ascontiguousarray(sample_crops(64, 2))  # (2, 64, 64, 3)
    tuned = resolve.tune_predictor(Predictor.from_file(path), crops)
    assert len(timed) == 1 and batch_norms(timed[0]) == 0  # the trials saw what runs
    backend = tuned.backend
    assert backend.precision == "bf16" and backend.channels_last and batch_norms(backend.model) == 0
    from handpose.data.transforms import to_network_input

    got = backend(to_network_input(crops))[0]  # (2, 22, 8, 8) bf16, channels-last, folded
    with torch.inference_mode():
        want = model.eval()(torch.from_numpy(to_network_input(crops)))[-1].numpy()  # fp32, unfolded
    assert np.isfinite(got).all() and np.abs(got - want).max() < 0.05  # bf16's rounding, not another network


def test_detector_from_file_runs_the_folded_copy(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = trained_statistics(build_detector(SMALL_DETECTOR), 7)
    path = tmp_path / "detector.safetensors"
    save_weights(model, path)
    loaded, given = HandDetector.from_file(path, threshold=0.0), HandDetector.from_model(model, threshold=0.0)
    assert batch_norms(loaded.model) == 0 and given.model is model and batch_norms(model) > 0
    image = sample_crops(96, 1)[0]
    a, b = loaded.detect(image), given.detect(image)
    assert len(a) == len(b) > 0
    for p, q in zip(a, b):
        assert np.abs(p.box - q.box).max() < 0.01 and abs(p.score - q.score) < 1e-5


def test_onnx_export_of_the_weights_matches_the_folded_predictor(lite_weights: tuple[nn.Module, Path],
                                                                 tmp_path: Path) -> None:
    model, path = lite_weights
    onnx_path = tmp_path / "lite.onnx"
    export_onnx(model, onnx_path, DataConfig(input_size=64))  # as `handpose export` does, from the loaded weights
    assert batch_norms(model) > 0  # the export took the network as trained
    image = sample_crops(96, 1)[0]
    a = Predictor.from_file(path).predict(image, box=(10, 8, 70, 70))
    b = Predictor.from_file(onnx_path).predict(image, box=(10, 8, 70, 70))
    assert np.abs(a.stage_maps[-1] - b.stage_maps[-1]).max() < 1e-4
    assert np.abs(a.keypoints - b.keypoints).max() < 0.01


def test_shipped_models_fold_to_the_same_maps() -> None:
    from handpose import pretrained
    from handpose.model.artifact import load_model

    for name, task, side in (("lite", "keypoints", 128), (pretrained.DEFAULT_DETECTOR, "detect", 320)):
        model = load_model(pretrained.path(name), task=task)  # trained statistics, eval mode
        fold = folded(model)
        assert batch_norms(model) > 0 and batch_norms(fold) == 0
        x = network_input(1, side)
        with torch.inference_mode():
            want, got = model(x), fold(x)
        pairs = [(want[k], got[k]) for k in want] if isinstance(want, dict) else list(zip(want, got))
        assert max(float((a - b).abs().max()) for a, b in pairs) < 1e-4, name
        if task == "keypoints":
            codec = HeatmapCodec(side, 8)
            kp_a, kp_b = codec.decode(want[-1].numpy())[0], codec.decode(got[-1].numpy())[0]  # (1, 21, 2)
            assert np.abs(kp_a - kp_b).max() < 0.01


def test_the_folded_networks_inference_verdict_has_its_own_cache_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # the folded network runs faster than the same preset with its batch norms: a verdict timed on one (cached in
    # autotune.json before inference folded) must not be taken for the other's
    keys = []

    def record(key, measure, amp, channels_last):  # noqa: ANN001, ANN202 - resolve.choose's arguments
        keys.append(key)
        return Choice("fp32", False)

    monkeypatch.setattr(resolve, "choose", record)
    model = trained_statistics(build_model(preset("lite")), 3)
    crops = np.zeros((2, 32, 32, 3), np.uint8)
    resolve.inference_choice(model, crops, "cpu")
    resolve.inference_choice(folded(model), crops, "cpu")
    assert keys[0].preset == "lite" and keys[1].preset == "lite, batch norm folded"
    assert keys[0].text() != keys[1].text()
