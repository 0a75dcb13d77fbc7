"""The hand detector network: MobileNet-v1 units to stride 32, a neck back to stride 4, CenterNet-style heads.

Layout (``c(x)`` = ``x * width`` channels, rounded to a multiple of 4)::

    stem      3x3 conv, stride 2, c(32)                                                  (N, c32, S/2, S/2)
    stage 4   depthwise-separable units c(64), c(128)/2, c(128)                         C4  (N, c128, S/4, S/4)
    stage 8   c(256)/2, c(256)                                                           C8  (N, c256, S/8, S/8)
    stage 16  c(512)/2, backbone_repeats x c(512)                                        C16 (N, c512, S/16, S/16)
    stage 32  c(1024)/2, c(1024)                                                         C32 (N, c1024, S/32, S/32)
    neck      P32 = 1x1(C32); P_s = smooth(upsample2(P_2s) + 1x1(C_s)) for s = 16, 8, 4  P4  (N, neck, S/4, S/4)
    heads     on P4, each a depthwise-separable 3x3 (head_channels) then a 1x1 output:
              heatmap (N, 1) hand-centre logits, size (N, 2) log(w / stride), log(h / stride) in input pixels,
              offset (N, 2) sub-cell centre offset in [0, 1) cells, left (N, 1) left-hand logit.

The stride-32 level gives the centre cells of a hand filling the frame a view of all of it; the stride-4 output
keeps a 12 px hand (6 input px at 320 from a 640 px frame) on its own cell. Everything that decides the
architecture is a :class:`~handpose.config.DetectorConfig` field, stored with the weights. Control flow is fixed
at construction, so the network traces to ONNX; the input side must be a multiple of 32.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from handpose.config import DetectorConfig
from handpose.model.blocks import ConvBNReLU, DepthwiseSeparable, init_conv_bn, scaled

HEAD_CHANNELS: dict[str, int] = {"heatmap": 1, "size": 2, "offset": 2, "left": 1}
HEATMAP_PRIOR = 0.01  # initial hand probability of every cell (focal-loss paper's prior: stable first steps)


def backbone_plan(width: float, repeats: int) -> list[list[tuple[int, int]]]:
    """``(cout, stride)`` of the depthwise-separable units of each level (stride 4, 8, 16, 32), after the stem."""
    plan = [
        [(64, 1), (128, 2), (128, 1)],
        [(256, 2), (256, 1)],
        [(512, 2)] + [(512, 1)] * repeats,
        [(1024, 2), (1024, 1)],
    ]
    return [[(scaled(c, width), s) for c, s in level] for level in plan]


class Head(nn.Module):
    """Depthwise-separable 3x3 (+BN+ReLU) then a 1x1 conv with bias: (N, cin, h, w) -> (N, cout, h, w)."""

    def __init__(self, cin: int, mid: int, cout: int) -> None:
        super().__init__()
        self.body = DepthwiseSeparable(cin, mid)
        self.out = nn.Conv2d(mid, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


class HandDetectorNet(nn.Module):
    """CenterNet-style hand detector (see the module docstring); ``forward`` returns a dict of output maps."""

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__()
        self.config = config
        if config.stride != 4:
            raise ValueError(f"DetectorConfig.stride must be 4, got {config.stride}")
        stem = scaled(32, config.width)
        self.stem = ConvBNReLU(3, stem, 3, stride=2)
        levels: list[nn.Module] = []
        widths: list[int] = []
        cin = stem
        for level in backbone_plan(config.width, config.backbone_repeats):
            units = []
            for cout, stride in level:
                units.append(DepthwiseSeparable(cin, cout, stride))
                cin = cout
            levels.append(nn.Sequential(*units))
            widths.append(cin)
        self.levels = nn.ModuleList(levels)  # outputs at stride 4, 8, 16, 32
        n = config.neck_channels
        self.lateral = nn.ModuleList([ConvBNReLU(c, n, 1) for c in widths])
        self.smooth = nn.ModuleList([DepthwiseSeparable(n, n) for _ in widths[:-1]])  # stride 4, 8, 16
        self.heads = nn.ModuleDict({k: Head(n, config.head_channels, c) for k, c in HEAD_CHANNELS.items()})
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N, 3, S, S) network input (S a multiple of 32) -> maps, each (N, C, S/4, S/4); see HEAD_CHANNELS."""
        feats = []
        x = self.stem(x)  # (N, c32, S/2, S/2)
        for level in self.levels:
            x = level(x)
            feats.append(x)  # (N, c, S/4), (S/8), (S/16), (S/32)
        p = self.lateral[-1](feats[-1])  # (N, neck, S/32, S/32)
        for i in range(len(feats) - 2, -1, -1):
            up = F.interpolate(p, scale_factor=2.0, mode="nearest")  # (N, neck, 2h, 2w)
            p = self.smooth[i](up + self.lateral[i](feats[i]))  # (N, neck, S/2^(i+2), ...)
        return {k: head(p) for k, head in self.heads.items()}  # each (N, C_k, S/4, S/4)


def build_detector(cfg: DetectorConfig | None = None) -> HandDetectorNet:
    """A freshly initialised detector (the default config when None)."""
    return HandDetectorNet(cfg or DetectorConfig())


def _init_weights(model: HandDetectorNet) -> None:
    """He-normal convs, BN to identity; output convs small, the heatmap's bias at the prior hand probability."""
    init_conv_bn(model)
    for head in model.heads.values():
        nn.init.normal_(head.out.weight, std=0.01)
    nn.init.constant_(model.heads["heatmap"].out.bias, -math.log((1 - HEATMAP_PRIOR) / HEATMAP_PRIOR))
