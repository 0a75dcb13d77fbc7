"""Imported ImageNet weights meet handpose's input (BGR, x/256 - 0.5): conv1_1 is rewritten so it sees what it was
trained on. The foreign preprocessing is spelled out here by hand, independently of ``vgg_import.InputConvention``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from handpose.data.transforms import to_network_input
from handpose.model.caffe import write_caffemodel
from handpose.model.cpm import build_model
from handpose.model.importers import init_weights
from handpose.model.vgg_import import CAFFE_VGG, TORCHVISION_IMAGENET, InputConvention, convert_first_conv


def torchvision_preprocess(bgr: np.ndarray) -> np.ndarray:
    """(H, W, 3) BGR uint8 -> (3, H, W) as torchvision's ImageNet models expect: RGB / 255, then mean/std."""
    rgb = bgr[..., ::-1].astype(np.float64) / 255.0
    return ((rgb - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).transpose(2, 0, 1)


def caffe_vgg_preprocess(bgr: np.ndarray) -> np.ndarray:
    """(H, W, 3) BGR uint8 -> (3, H, W) as Caffe's VGG (and the TF .npy converted from it): BGR 0-255 minus mean."""
    return (bgr.astype(np.float64) - [103.939, 116.779, 123.68]).transpose(2, 0, 1)


def conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(3, H, W) -> (out, H, W): a 3x3 conv with zero padding 1, in float64."""
    out = F.conv2d(
        torch.from_numpy(x[None]).double(),
        torch.from_numpy(weight).double(),
        torch.from_numpy(bias).double(),
        padding=1,
    )
    return out[0].numpy()


def image(seed: int = 0, shape: tuple[int, int] = (21, 26)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def vgg_like_conv1_1(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A 64 x 3 x 3 x 3 layer at an ImageNet VGG's scale (weights ~0.1-0.5, biases ~0.5)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((64, 3, 3, 3)) * 0.3).astype(np.float32), (rng.standard_normal(64) * 0.5).astype(
        np.float32
    )


@pytest.mark.parametrize(
    "convention, preprocess",
    [(TORCHVISION_IMAGENET, torchvision_preprocess), (CAFFE_VGG, caffe_vgg_preprocess)],
    ids=["torchvision", "caffe-vgg"],
)
def test_converted_conv1_1_on_handpose_input_equals_original_on_its_input(convention: InputConvention,
        preprocess: Callable[[np.ndarray], np.ndarray]) -> None:
    img = image()
    weight, bias = vgg_like_conv1_1()
    expected = conv(preprocess(img), weight, bias)  # (64, H, W)
    new_w, new_b = convert_first_conv(weight, bias, convention)
    got = conv(to_network_input(img).astype(np.float64), new_w, new_b)  # (64, H, W)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got[:, 1:-1, 1:-1], expected[:, 1:-1, 1:-1], rtol=0, atol=2e-6 * scale)
    # the outer ring differs: a padded zero stands for grey (128) in handpose's space, the mean colour in the source's
    assert np.abs(got[:, 0] - expected[:, 0]).max() > 1e-2 * scale
    # without the conversion the interior is far off: the test can tell
    unconverted = conv(to_network_input(img).astype(np.float64), weight, bias)
    assert np.abs(unconverted[:, 1:-1, 1:-1] - expected[:, 1:-1, 1:-1]).max() > 0.1 * scale


def test_input_convention_matches_the_hand_spelled_preprocessing() -> None:
    img = image(2, (5, 7))
    np.testing.assert_allclose(TORCHVISION_IMAGENET(img).transpose(2, 0, 1), torchvision_preprocess(img))
    np.testing.assert_allclose(CAFFE_VGG(img).transpose(2, 0, 1), caffe_vgg_preprocess(img))


def test_conversion_to_the_same_convention_is_the_identity() -> None:
    weight, bias = vgg_like_conv1_1()
    for convention in (TORCHVISION_IMAGENET, CAFFE_VGG):
        w, b = convert_first_conv(weight, bias, convention, convention)
        np.testing.assert_allclose(w, weight, rtol=1e-6)
        np.testing.assert_allclose(b, bias, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="expected weight"):
        convert_first_conv(weight[:, :2], bias, CAFFE_VGG, InputConvention("x", "BGR", 1.0, (0.0, 0.0, 0.0)))


def _interior_check(model: torch.nn.Module, preprocess: Callable[[np.ndarray], np.ndarray], weight: np.ndarray,
                    bias: np.ndarray) -> None:
    img = image(3)
    x = torch.from_numpy(to_network_input(img))[None]  # (1, 3, H, W)
    with torch.no_grad():
        got = model.conv1_1(x)[0].double().numpy()  # (64, H, W)
    expected = conv(preprocess(img), weight, bias)
    np.testing.assert_allclose(got[:, 1:-1, 1:-1], expected[:, 1:-1, 1:-1], rtol=0, atol=1e-5 * np.abs(expected).max())


def test_vgg19_import_converts_conv1_1_only(tmp_path: Path) -> None:
    from test_model_importers import vgg19_state_dict

    state = vgg19_state_dict()
    weight, bias = vgg_like_conv1_1()
    state["features.0.weight"], state["features.0.bias"] = torch.from_numpy(weight), torch.from_numpy(bias)
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    model = build_model("openpose")
    report = init_weights(model, path)
    assert "conv1_1 converted from torchvision" in report.summary()
    _interior_check(model, torchvision_preprocess, weight, bias)
    assert torch.equal(model.conv1_2.weight, state["features.2.weight"])  # the rest is copied unchanged


def test_tf_vgg16_npy_import_converts_conv1_1(tmp_path: Path) -> None:
    weight, bias = vgg_like_conv1_1()
    rng = np.random.default_rng(4)
    data = {
        b"conv1_1": {b"weights": weight.transpose(2, 3, 1, 0), b"biases": bias},  # (kh, kw, cin, cout)
        b"conv1_2": {b"weights": rng.standard_normal((3, 3, 64, 64)).astype(np.float32), b"biases": np.zeros(64)},
    }
    path = tmp_path / "openpose_vgg16.npy"
    np.save(path, data, allow_pickle=True)
    model = build_model("openpose")
    report = init_weights(model, path)
    assert report.loaded == ["conv1_1", "conv1_2"] and "converted from Caffe VGG" in report.converted
    _interior_check(model, caffe_vgg_preprocess, weight, bias)
    np.testing.assert_array_equal(
        model.conv1_2.weight.detach().numpy(), data[b"conv1_2"][b"weights"].transpose(3, 2, 0, 1)
    )


def test_caffemodel_conv1_1_is_copied_unchanged(tmp_path: Path) -> None:
    """OpenPose's caffemodel was trained on handpose's own input (BGR, x/256 - 0.5): nothing to convert."""
    source = build_model("tiny")
    layers = {
        n: [m.weight.detach().numpy(), m.bias.detach().numpy()]
        for n, m in source.named_modules()
        if isinstance(m, torch.nn.Conv2d)
    }
    path = tmp_path / "hand.caffemodel"
    write_caffemodel(path, layers)
    target = build_model("tiny")
    report = init_weights(target, path)
    assert report.converted == ""
    assert torch.equal(target.conv1_1.weight, source.conv1_1.weight) and torch.equal(
        target.conv1_1.bias, source.conv1_1.bias
    )
