"""The network presets by name (``openpose``, ``lite``, ``tiny``): each a :class:`~handpose.config.ModelConfig`.

Kept apart from the network's code (``cpm.py``) so that the commands' flags list them without loading torch."""

from __future__ import annotations

import dataclasses

from handpose.config import ModelConfig

PRESETS: dict[str, ModelConfig] = {
    # OpenPose's hand network: 36,832,324 parameters, 103.2 GMAC at 368 (conv multiply-accumulates, sum of
    # H_out * W_out * C_out * C_in * k * k: VGG-19 front 58.9, stage 1 0.16, each of stages 2-6 8.83).
    "openpose": ModelConfig(),
    # CPU preset (~0.74 GMAC at 192, 1.26 M parameters): MobileNet-v1 front at half width (Lightweight OpenPose's
    # truncation at stride 8, dilated conv4_2, 2 of its 4 extra units), one 3x3 conv ahead of conv6_1_CPM, and one
    # refinement stage of 3 residual units (1x1 + 3x3 + dilated 3x3, the receptive field of a 7x7 each), 192 px input.
    "lite": ModelConfig(
        preset="lite",
        backbone="mobilenet",
        width=0.5,
        backbone_repeats=2,
        feature_channels=128,
        stage1_layers=1,
        stage1_channels=256,
        stages=2,
        stage_channels=96,
        stage_kernel=3,
        stage_block="residual",
        stage_layers=3,
        input_size=192,
    ),
    # Test preset: OpenPose's layout at 1/16 width, 2 stages of stacked 3x3 convs, 64 px input.
    "tiny": ModelConfig(
        preset="tiny",
        backbone="vgg19",
        width=0.0625,
        feature_channels=16,
        stage1_channels=32,
        stages=2,
        stage_channels=16,
        stage_kernel=3,
        stage_layers=2,
        input_size=64,
    ),
}


def preset(name: str) -> ModelConfig:
    """A fresh copy of the preset ``name`` (``ValueError`` naming the presets when unknown)."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; presets are {sorted(PRESETS)}")
    return dataclasses.replace(PRESETS[name])
