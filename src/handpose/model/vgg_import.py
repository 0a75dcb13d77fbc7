"""torchvision's VGG-19 ImageNet weights (``vgg19-dcbb9e9d.pth``) -> OpenPose's front layer names.

torchvision's ``vgg19().features`` is ``[conv, ReLU] x2, pool, [conv, ReLU] x2, pool, [conv, ReLU] x4, pool,
[conv, ReLU] x4, pool, [conv, ReLU] x4, pool`` (configuration "E"), so the convs sit at these indices:
conv1_1 0, conv1_2 2 | conv2_1 5, conv2_2 7 | conv3_1..3_4 10, 12, 14, 16 | conv4_1..4_4 19, 21, 23, 25 |
conv5_1..5_4 28, 30, 32, 34. OpenPose's hand front uses conv1_1..conv4_4 and then its own conv5_1, conv5_2
(512 -> 512, 3x3, at stride 8 where VGG's are at stride 16); VGG's conv5_1 and conv5_2 have the same shapes and
are used to initialise them. conv5_3/conv5_4 and the classifier are not used.

Input conventions. handpose feeds the network BGR scaled as ``x / 256 - 0.5`` (``data/transforms.py``
``to_network_input``), OpenPose's own (``uCharCvMatToFloatPtr`` with normalize 1, on OpenCV's BGR images), so
OpenPose's caffemodel needs no change. ImageNet weights were trained on other inputs:

- torchvision's VGG-19: RGB in [0, 1] normalised by mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225);
- the TensorFlow VGG-16 ``.npy`` of hand_detector_train: its ``{layer: {"weights", "biases"}}`` layout is that of
  Caffe-to-TensorFlow converters, which keep the Caffe VGG-16's input (the converted ``vgg16.npy`` files are driven
  by turning RGB [0, 1] into BGR 0-255 minus the per-channel mean [103.939, 116.779, 123.68]): BGR, 0-255, minus
  that mean, std 1. (hand_detector_train itself fed these weights its x/256 - 0.5 input unconverted and let training
  adapt; a ``.npy`` of that layout converted from a network trained on OpenPose's input would need no rewrite.)

:func:`convert_first_conv` rewrites conv1_1 so that on handpose's input it computes exactly what it computed on its
own input: with ``x_src[i] = a[i] * x_handpose[perm[i]] + d[i]`` per source channel ``i``, the weight of source
channel ``i`` moves to handpose channel ``perm[i]`` times ``a[i]`` and the bias gains ``sum_i d[i] * sum_k W[:, i, k]``.
Zero padding breaks the identity at the border: a padded zero stands for pixel 128 (grey) in handpose's space but
for the mean colour in the source's, so a 3x3 conv with padding 1 agrees on every pixel but the outer ring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

VGG19_CONV_INDEX: dict[str, int] = {
    "conv1_1": 0, "conv1_2": 2,
    "conv2_1": 5, "conv2_2": 7,
    "conv3_1": 10, "conv3_2": 12, "conv3_3": 14, "conv3_4": 16,
    "conv4_1": 19, "conv4_2": 21, "conv4_3": 23, "conv4_4": 25,
    "conv5_1": 28, "conv5_2": 30,
}  # fmt: skip


def is_vgg_state_dict(state: object) -> bool:
    """True for a torchvision VGG state dict (``features.N.weight`` keys)."""
    return isinstance(state, dict) and any(isinstance(k, str) and k.startswith("features.") for k in state)


def vgg19_layers(state: dict[str, torch.Tensor], source: str) -> tuple[dict[str, list[np.ndarray]], list[str]]:
    """OpenPose layer name -> [weight (out, in, 3, 3), bias] from a VGG-19 state dict, and the keys left unused."""
    if any(k.endswith("running_mean") for k in state):
        raise ValueError(f"{source}: a batch-norm VGG (vgg19_bn) state dict; expected plain VGG-19 (vgg19)")
    convs = [int(k.split(".")[1]) for k in state if k.startswith("features.") and k.endswith(".weight")]
    deepest = max(convs, default=-1)
    if deepest != 34:
        raise ValueError(f"{source}: last conv at features.{deepest}; torchvision VGG-19 ends at features.34")
    layers: dict[str, list[np.ndarray]] = {}
    used: set[str] = set()
    for name, index in VGG19_CONV_INDEX.items():
        wkey, bkey = f"features.{index}.weight", f"features.{index}.bias"
        if wkey not in state or bkey not in state:
            raise ValueError(f"{source}: missing {wkey} / {bkey} (VGG-19 {name})")
        layers[name] = [state[wkey].float().numpy(), state[bkey].float().numpy()]
        used |= {wkey, bkey}
    return layers, sorted(set(state) - used)


@dataclass(frozen=True)
class InputConvention:
    """How a network's input is made from 8-bit pixels: ``(pixel[order[i]] * scale - mean[i]) / std[i]``.

    ``order`` names the colour of each input channel ("BGR": channel 0 is blue); ``mean`` and ``std`` are per input
    channel, in that order."""

    name: str
    order: str
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """(..., 3) 8-bit BGR pixels -> (..., 3) this convention's input values, float64 (tests, documentation)."""
        bgr = np.asarray(pixels, dtype=np.float64)
        channels = bgr[..., ["BGR".index(c) for c in self.order]]  # (..., 3) in this convention's order
        return (channels * self.scale - np.asarray(self.mean)) / np.asarray(self.std)


HANDPOSE_INPUT = InputConvention("handpose (BGR, x/256 - 0.5)", "BGR", 1 / 256, (0.5, 0.5, 0.5))
TORCHVISION_IMAGENET = InputConvention(
    "torchvision ImageNet (RGB, [0, 1], mean/std)", "RGB", 1 / 255, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
)
CAFFE_VGG = InputConvention("Caffe VGG (BGR, 0-255, minus mean)", "BGR", 1.0, (103.939, 116.779, 123.68))


def convert_first_conv(
    weight: np.ndarray,
    bias: np.ndarray,
    source: InputConvention,
    target: InputConvention = HANDPOSE_INPUT,
) -> tuple[np.ndarray, np.ndarray]:
    """conv1_1 trained on ``source`` inputs -> the same layer for ``target`` inputs (see the module docstring).

    ``weight`` (out, 3, kh, kw), ``bias`` (out,); float32 results computed in float64. Exact away from the zero-padded
    border."""
    w = np.asarray(weight, dtype=np.float64)  # (out, 3, kh, kw)
    b = np.asarray(bias, dtype=np.float64)  # (out,)
    if w.ndim != 4 or w.shape[1] != 3 or b.shape != (w.shape[0],):
        raise ValueError(
            f"convert_first_conv: expected weight (out, 3, kh, kw) and bias (out,), got {w.shape}, {b.shape}"
        )
    out_w = np.zeros_like(w)
    out_b = b.copy()
    for i, colour in enumerate(source.order):
        j = target.order.index(colour)  # the target channel holding this colour
        # pixel = (x_target[j] * std_t + mean_t) / scale_t, and x_source[i] = (pixel * scale_s - mean_s) / std_s
        a = source.scale * target.std[j] / (target.scale * source.std[i])
        d = (source.scale * target.mean[j] / target.scale - source.mean[i]) / source.std[i]
        out_w[:, j] += a * w[:, i]  # (out, kh, kw)
        out_b += d * w[:, i].sum(axis=(1, 2))  # (out,)
    return out_w.astype(np.float32), out_b.astype(np.float32)
