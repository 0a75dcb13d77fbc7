"""Start a hand detector from a keypoint model's MobileNet front: ``handpose train --task detect --init KEYPOINTS``.

The keypoint model's ``mobilenet`` front (``model/cpm.py``: a 3x3 stem, then depthwise-separable units 64, 128/2,
128, 256/2, 256, 512, 512 dilated, ``backbone_repeats`` x 512) and the detector's backbone (``detection/model.py``:
the same stem, then 64, 128/2, 128 | 256/2, 256 | 512/2, ``backbone_repeats`` x 512 | 1024/2, 1024) share their
units in order; only strides and dilations differ, which leave the weights' shapes alone. A keypoint model trained
on hand crops has learnt skin, fingers and backgrounds, so its units are a better start for the detector than
random weights: the detector's stem and its first units take them, and everything else (the deepest units, neck
and heads) keeps its fresh initialisation.

Units are paired in order while both shapes agree (weights, biases and BatchNorm statistics alike) and the pairing
stops at the first mismatch: a front with fewer or more 512-wide units than the detector's stride-16 level fills what
fits, and a model of another width, whose stem already differs, is refused.
"""

from __future__ import annotations

import torch
from torch import nn


def detector_units(detector: nn.Module) -> list[nn.Module]:
    """The detector's stem and backbone units, input to output."""
    units: list[nn.Module] = [detector.stem]
    for level in detector.levels:
        units.extend(level)
    return units


def keypoint_units(model: nn.Module) -> list[nn.Module]:
    """The keypoint model's MobileNet stem and units, input to output (ValueError for a VGG-19 front)."""
    backbone = getattr(model, "backbone", None)
    if not isinstance(backbone, nn.Sequential):
        front = getattr(getattr(model, "config", None), "backbone", "unknown")
        raise ValueError(f"a detector can start only from a keypoint model with a MobileNet front (the lite "
                         f"preset); this one has a {front!r} front")
    return list(backbone)


def _same_shapes(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(sa[k].shape == sb[k].shape for k in sa)


def transfer_backbone(detector: nn.Module, keypoint_model: nn.Module) -> int:
    """Copy the keypoint model's stem and units into the detector's, in order, up to the first unit whose
    parameter shapes differ; returns how many units were copied (ValueError when not even the stem fits)."""
    pairs = 0
    with torch.no_grad():
        for target, source in zip(detector_units(detector), keypoint_units(keypoint_model)):
            if not _same_shapes(target, source):
                break
            target.load_state_dict(source.state_dict())
            pairs += 1
    if pairs == 0:
        raise ValueError("the keypoint model's front does not fit the detector's stem (their widths differ)")
    return pairs
