"""The cost figures written in ``model/cpm.py`` and ``model/presets.py`` agree with a count of the convolutions'
multiply-accumulates.

The count walks the built model with forward hooks on every ``nn.Conv2d`` (``H_out * W_out * C_out * C_in / groups *
kh * kw`` per layer), on the meta device, so no arithmetic runs and the full OpenPose network costs nothing to count.
A second count from OpenPose's layer table (``formats.md``) checks the hooks themselves.
"""

from __future__ import annotations

import inspect
import re

import pytest
import torch
from torch import nn

from handpose.model import cpm, presets
from handpose.model.cpm import VGG19_FRONT, build_model


def conv_macs(name: str, size: int) -> int:
    """Multiply-accumulates of every conv of preset ``name`` on one ``size x size`` input, counted with hooks."""
    with torch.device("meta"):
        model = build_model(name).eval()
    total = 0

    def count(module: nn.Conv2d, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        _, cout, h, w = output.shape  # (1, C_out, H_out, W_out)
        kh, kw = module.kernel_size
        total += h * w * cout * (module.in_channels // module.groups) * kh * kw

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.empty(1, 3, size, size, device="meta"))
    for hook in hooks:
        hook.remove()
    return total


def openpose_macs_from_the_layer_table(size: int = 368) -> int:
    """The same count by hand from OpenPose's layer table: 3x3 front, 1x1 stage 1, five 7x7 stages of 128."""
    macs, cin, side = 0, 3, size
    for _, cout in VGG19_FRONT:
        if cout == 0:  # 2x2 / 2 max pool, rounding up
            side = (side + 1) // 2
            continue
        macs += side * side * cout * cin * 9
        cin = cout
    area = side * side  # 46 x 46 at 368
    macs += area * 128 * cin * 9  # conv5_3_CPM
    macs += area * (512 * 128 + 22 * 512)  # conv6_1_CPM, conv6_2_CPM
    stage = area * (128 * (22 + 128) * 49 + 4 * 128 * 128 * 49 + 128 * 128 + 22 * 128)  # Mconv1..Mconv7
    return macs + 5 * stage


def written_figures(unit_size: str) -> list[float]:
    """Every ``<x> GMAC at <size>`` written in model/cpm.py and model/presets.py (docstring and preset comments)."""
    source = inspect.getsource(cpm) + inspect.getsource(presets)
    return [float(x) for x in re.findall(rf"~?(\d+(?:\.\d+)?) GMAC at {unit_size}\b", source)]


def test_hook_count_matches_the_layer_table() -> None:
    assert conv_macs("openpose", 368) == openpose_macs_from_the_layer_table(368)


@pytest.mark.parametrize("preset, size", [("openpose", 368), ("lite", 192)])
def test_written_gmac_figures_match_the_count(preset: str, size: int) -> None:
    figures = written_figures(str(size))
    assert figures, f"no 'GMAC at {size}' figure in model/cpm.py or presets.py"
    counted = conv_macs(preset, size) / 1e9
    for figure in figures:
        assert figure == pytest.approx(counted, rel=0.01), f"{preset}: written {figure} GMAC, counted {counted:.2f}"


def test_openpose_count_is_103_2_gmac() -> None:
    assert conv_macs("openpose", 368) == 103_187_671_040
