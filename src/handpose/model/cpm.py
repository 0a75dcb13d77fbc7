"""The CPM hand network (OpenPose's ``models/hand/pose_deploy.prototxt``) and its lighter presets.

Layout (``openpose`` preset, layer for layer as OpenPose)::

    front   conv1_1 conv1_2 pool1_stage1 conv2_1 conv2_2 pool2_stage1 conv3_1..conv3_4 pool3_stage1
            conv4_1..conv4_4 conv5_1 conv5_2 (3x3, ReLU) -> conv5_3_CPM (3x3, 128, ReLU)       = F (N, 128, H/8, W/8)
    stage 1 conv6_1_CPM (1x1, 512, ReLU) -> conv6_2_CPM (1x1, 22)                             = S1
    stage s Mconv1..Mconv5_stage<s> (7x7, 128, ReLU) on cat([S(s-1), F]) -> Mconv6 (1x1, 128, ReLU) -> Mconv7 (1x1, 22)

Cost at 368 x 368 (``openpose``): 103.2 GMAC, counting each convolution's multiply-accumulates
``H_out * W_out * C_out * C_in / groups * kh * kw`` (biases, ReLUs and pools left out).

State-dict keys carry OpenPose's layer names (``conv1_1.weight``, ``Mconv7_stage6.bias``) so Caffe weights map
one to one. Max pools round up (``ceil_mode=True``, as Caffe), so the maps are ``ceil(H/8) x ceil(W/8)``.
``forward`` returns every stage's maps (intermediate supervision); inference uses the last.

Lighter presets change the front (``backbone="mobilenet"``: MobileNet-v1 to stride 8, as Lightweight OpenPose),
the width, the number of stages, and the stage layers (``stage_kernel=3``: three stacked 3x3 convs per 7x7;
``stage_block="residual"``: Lightweight OpenPose's 1x1 + 3x3 + dilated 3x3 residual unit). Everything that decides
the architecture is a :class:`~handpose.config.ModelConfig` field, stored with the weights.
All control flow is over Python lists fixed at construction, so the model traces to ONNX.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from handpose.config import ModelConfig
from handpose.model.blocks import (
    ConvBNReLU,
    DepthwiseSeparable,
    ResidualRefine,
    init_conv_bn,
    mobilenet_layers,
    scaled,
)
from handpose.model.presets import PRESETS as PRESETS
from handpose.model.presets import preset as preset

# OpenPose's VGG-19 front: (name, output channels) of each 3x3 conv, "pool" entries are 2x2/2 max pools.
VGG19_FRONT: list[tuple[str, int]] = [
    ("conv1_1", 64), ("conv1_2", 64), ("pool1_stage1", 0),
    ("conv2_1", 128), ("conv2_2", 128), ("pool2_stage1", 0),
    ("conv3_1", 256), ("conv3_2", 256), ("conv3_3", 256), ("conv3_4", 256), ("pool3_stage1", 0),
    ("conv4_1", 512), ("conv4_2", 512), ("conv4_3", 512), ("conv4_4", 512),
    ("conv5_1", 512), ("conv5_2", 512),
]  # fmt: skip



class CPM(nn.Module):
    """Convolutional Pose Machine: a front producing stride-8 features, then ``config.stages`` belief-map stages."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        _check(config)
        feat = config.feature_channels
        self._front: list[tuple[str, str]] = []  # (module name or pool name, "conv" | "pool" | "module")
        if config.backbone == "vgg19":
            cin = 3
            for name, cout in VGG19_FRONT:
                if cout == 0:
                    self._front.append((name, "pool"))
                    continue
                cout = scaled(cout, config.width)
                self.add_module(name, nn.Conv2d(cin, cout, 3, padding=1))
                self._front.append((name, "conv"))
                cin = cout
        else:  # mobilenet
            first = scaled(32, config.width)
            units: list[nn.Module] = [ConvBNReLU(3, first, 3, stride=2)]
            cin = first
            for cout, stride, dilation in mobilenet_layers(config.width, config.backbone_repeats):
                units.append(DepthwiseSeparable(cin, cout, stride, dilation))
                cin = cout
            self.backbone = nn.Sequential(*units)
            self._front.append(("backbone", "module"))
        self.conv5_3_CPM = nn.Conv2d(cin, feat, 3, padding=1)
        self._front.append(("conv5_3_CPM", "conv"))

        # stage 1: optional 3x3 convs, then conv6_1_CPM (1x1) and conv6_2_CPM (1x1, no ReLU)
        self._stage_layers: list[list[tuple[str, bool]]] = []  # per stage: (module name, ReLU after it)
        layers: list[tuple[str, bool]] = []
        cin = feat
        for i in range(1, config.stage1_layers + 1):
            name = f"conv6_0_{i}_CPM"
            self.add_module(name, nn.Conv2d(cin, config.stage_channels, 3, padding=1))
            layers.append((name, True))
            cin = config.stage_channels
        self.conv6_1_CPM = nn.Conv2d(cin, config.stage1_channels, 1)
        self.conv6_2_CPM = nn.Conv2d(config.stage1_channels, config.num_maps, 1)
        layers += [("conv6_1_CPM", True), ("conv6_2_CPM", False)]
        self._stage_layers.append(layers)

        # stages 2..: input cat([previous maps, F]) in this order (as OpenPose's concat_stage<s>)
        ch = config.stage_channels
        for s in range(2, config.stages + 1):
            layers = []
            cin = config.num_maps + feat
            for m in range(1, config.stage_layers + 1):
                base = f"Mconv{m}_stage{s}"
                if config.stage_block == "residual":
                    self.add_module(base, ResidualRefine(cin, ch))
                    layers.append((base, False))  # the unit ends in its own ReLUs
                elif config.stage_kernel == 7:
                    self.add_module(base, nn.Conv2d(cin, ch, 7, padding=3))
                    layers.append((base, True))
                else:  # three stacked 3x3 convs: the receptive field of one 7x7
                    for j in "abc":
                        self.add_module(f"{base}_{j}", nn.Conv2d(cin, ch, 3, padding=1))
                        layers.append((f"{base}_{j}", True))
                        cin = ch
                cin = ch
            mid, last = f"Mconv{config.stage_layers + 1}_stage{s}", f"Mconv{config.stage_layers + 2}_stage{s}"
            self.add_module(mid, nn.Conv2d(ch, ch, 1))  # Mconv6: 1x1, ReLU
            self.add_module(last, nn.Conv2d(ch, config.num_maps, 1))  # Mconv7: 1x1 belief maps, no ReLU
            layers += [(mid, True), (last, False)]
            self._stage_layers.append(layers)
        _init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The front: (N, 3, H, W) network input -> (N, feature_channels, ceil(H/8), ceil(W/8))."""
        for name, kind in self._front:
            if kind == "pool":
                x = F.max_pool2d(x, 2, 2, ceil_mode=True)  # Caffe rounds pooled sizes up
            elif kind == "conv":
                x = F.relu(getattr(self, name)(x), inplace=True)
            else:
                x = getattr(self, name)(x)
        return x

    def _stage(self, index: int, x: torch.Tensor) -> torch.Tensor:
        for name, relu in self._stage_layers[index]:
            x = getattr(self, name)(x)
            if relu:
                x = F.relu(x, inplace=True)
        return x

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(N, 3, H, W) -> list of ``stages`` belief maps, each (N, num_maps, ceil(H/s), ceil(W/s)) at the output
        stride s (8; with ``output_stride=4`` the last stage runs on the features and maps upsampled 2x, and the
        earlier stages' maps are upsampled 2x too, so every stage is compared with the same targets)."""
        feats = self.features(x)  # (N, F, H/8, W/8)
        out = self._stage(0, feats)  # (N, 22, H/8, W/8)
        outputs = [out]
        last = len(self._stage_layers) - 1
        for s in range(1, last + 1):
            if s == last and self.config.output_stride == 4:
                feats, out = _up2(feats, x), _up2(out, x)  # (N, F, H/4, W/4), (N, 22, H/4, W/4)
            out = self._stage(s, torch.cat([out, feats], dim=1))  # (N, 22 + F, h, w) -> (N, 22, h, w)
            outputs.append(out)
        if self.config.output_stride == 4:
            outputs[:-1] = [_up2(o, x) for o in outputs[:-1]]  # (N, 22, H/4, W/4)
        return outputs


def _up2(maps: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) at stride 8 -> (N, C, ceil(H/4), ceil(W/4)) for the input ``x`` (N, 3, H, W): bilinear with
    half-pixel centres, which keeps the codec's cell-to-pixel convention at the finer stride."""
    up = F.interpolate(maps, scale_factor=2.0, mode="bilinear", align_corners=False)  # (N, C, 2h, 2w)
    return up[:, :, : (x.shape[2] + 3) // 4, : (x.shape[3] + 3) // 4]  # ceil without negative floor division,
    # which an ONNX export would turn into a truncating one


def build_model(cfg: ModelConfig | str) -> CPM:
    """A freshly initialised CPM from a config or a preset name."""
    if isinstance(cfg, str):
        cfg = preset(cfg)
    return CPM(cfg)


def count_parameters(model: nn.Module) -> int:
    """Number of learnable parameters."""
    return sum(p.numel() for p in model.parameters())


def _check(cfg: ModelConfig) -> None:
    if cfg.backbone not in ("vgg19", "mobilenet"):
        raise ValueError(f"ModelConfig.backbone must be 'vgg19' or 'mobilenet', got {cfg.backbone!r}")
    if cfg.stage_block not in ("plain", "residual"):
        raise ValueError(f"ModelConfig.stage_block must be 'plain' or 'residual', got {cfg.stage_block!r}")
    if cfg.stage_block == "plain" and cfg.stage_kernel not in (3, 7):
        raise ValueError(f"ModelConfig.stage_kernel must be 7 or 3, got {cfg.stage_kernel}")
    if cfg.stages < 1 or cfg.stage_layers < 1 or cfg.width <= 0:
        raise ValueError(f"ModelConfig needs stages >= 1, stage_layers >= 1 and width > 0: {cfg}")


def _init_weights(model: CPM) -> None:
    """He-normal convs with zero bias (trains from scratch through 19 plain layers), BN to identity; each stage's
    output conv gets Gaussian std 0.01 (OpenPose's filler), so fresh belief maps start near zero."""
    init_conv_bn(model, {layers[-1][0] for layers in model._stage_layers})
