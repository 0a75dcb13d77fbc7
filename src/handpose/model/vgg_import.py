"""torchvision's VGG-19 ImageNet weights (``vgg19-dcbb9e9d.pth``) -> OpenPose's front layer names.

torchvision's ``vgg19().features`` is ``[conv, ReLU] x2, pool, [conv, ReLU] x2, pool, [conv, ReLU] x4, pool,
[conv, ReLU] x4, pool, [conv, ReLU] x4, pool`` (configuration "E"), so the convs sit at these indices:
conv1_1 0, conv1_2 2 | conv2_1 5, conv2_2 7 | conv3_1..3_4 10, 12, 14, 16 | conv4_1..4_4 19, 21, 23, 25 |
conv5_1..5_4 28, 30, 32, 34. OpenPose's hand front uses conv1_1..conv4_4 and then its own conv5_1, conv5_2
(512 -> 512, 3x3, at stride 8 where VGG's are at stride 16); VGG's conv5_1 and conv5_2 have the same shapes and
are used to initialise them. conv5_3/conv5_4 and the classifier are not used.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

LOG = logging.getLogger(__name__)

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
