"""Small building blocks of the lighter presets: conv + batch-norm + ReLU, depthwise-separable conv, residual block.

OpenPose's own layers are plain ``nn.Conv2d`` registered under OpenPose's names in ``model/cpm.py``; the blocks
here only serve the lighter presets (``lite``), whose state-dict keys are this project's own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNReLU(nn.Module):
    """``k x k`` conv (no bias) -> batch norm -> ReLU; ``groups == channels`` makes it depthwise."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, dilation: int = 1,
                 groups: int = 1) -> None:
        super().__init__()
        pad = dilation * (kernel - 1) // 2  # "same" padding; stride 2 gives ceil(H/2)
        self.conv = nn.Conv2d(cin, cout, kernel, stride, pad, dilation=dilation, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class DepthwiseSeparable(nn.Module):
    """MobileNet-v1 unit: 3x3 depthwise (+BN+ReLU) then 1x1 pointwise (+BN+ReLU)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.dw = ConvBNReLU(cin, cin, 3, stride, dilation, groups=cin)
        self.pw = ConvBNReLU(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


class ResidualRefine(nn.Module):
    """Lightweight OpenPose's refinement unit: 1x1 conv, then 3x3 and 3x3 dilation-2 convs added back to the 1x1 output.

    Its receptive field (7 px at the map's resolution) equals one 7x7 conv's at about a third of the cost.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, cout, 1)
        self.conv_a = ConvBNReLU(cout, cout, 3)
        self.conv_b = ConvBNReLU(cout, cout, 3, dilation=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.squeeze(x), inplace=True)  # (N, C, h, w)
        return x + self.conv_b(self.conv_a(x))


def mobilenet_layers(width: float, repeats: int = 4) -> list[tuple[int, int, int]]:
    """MobileNet-v1 truncated at output stride 8 (Lightweight OpenPose's backbone): ``(cout, stride, dilation)``
    of each depthwise-separable unit after the first full 3x3 stride-2 conv (whose output is the first ``cin``);
    ``repeats`` plain 512-wide units follow the dilated one (Lightweight OpenPose: 4)."""
    plan = [(64, 1, 1), (128, 2, 1), (128, 1, 1), (256, 2, 1), (256, 1, 1), (512, 1, 1), (512, 1, 2)]
    plan += [(512, 1, 1)] * repeats
    return [(scaled(c, width), s, d) for c, s, d in plan]


def scaled(channels: int, width: float, minimum: int = 4) -> int:
    """``channels * width`` rounded to a multiple of 4 (SIMD-friendly), at least ``minimum``."""
    return max(minimum, int(round(channels * width / 4.0)) * 4)


def init_conv_bn(model: nn.Module, small: set[str] = frozenset()) -> None:
    """He-normal convs with zero bias, BatchNorm to identity; the convs named in ``small`` (output layers) get a
    Gaussian of std 0.01 instead, so fresh outputs start near zero."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            if name in small:
                nn.init.normal_(m.weight, std=0.01)
            else:
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
