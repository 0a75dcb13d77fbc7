"""Batch norm folded into the convolution before it, for inference: one op where there were two.

In eval mode a ``BatchNorm2d`` is a fixed per-channel affine map, ``y = (x - mean) * gamma / sqrt(var + eps) + beta``,
so the convolution feeding it can absorb it: with ``s = gamma / sqrt(var + eps)`` per output channel,
``w' = w * s`` and ``b' = (b - mean) * s + beta`` (``b = 0`` for a conv without bias), and the batch norm becomes
``nn.Identity``. The maps are those of the unfolded network to float rounding; the pass over the activations that
batch norm made is gone (8-15% less time per forward of the shipped networks on 2 CPU cores: BENCHMARKS.md, "Batch
norm folded into its conv for inference").

Only for inference: :func:`folded` works on a copy (the given network is never changed) and folds only the pairs
it can prove: a :class:`~handpose.model.blocks.ConvBNReLU`, whose ``forward`` runs its ``conv`` straight into its
``bn``, with the batch norm in eval mode and holding running statistics. A batch norm in training mode normalises
by each batch's own statistics and is left as it is, as is every conv with no batch norm after it. Training and its
checkpoints keep their batch norms: the inference path folds the network it loaded itself
(``Predictor.from_file``, ``HandDetector.from_file``), never a network handed in from Python, whose weights its
owner may still change.
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn

from handpose.model.blocks import ConvBNReLU

LOG = logging.getLogger(__name__)


def foldable(block: nn.Module) -> bool:
    """Whether ``block`` is a conv -> batch norm pair :func:`folded` may fold: a :class:`ConvBNReLU` whose batch
    norm is in eval mode with running statistics and matches its conv's output channels."""
    if not isinstance(block, ConvBNReLU):
        return False
    conv, bn = block.conv, block.bn
    return (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and not bn.training
            and bn.running_mean is not None and bn.running_var is not None
            and bn.num_features == conv.out_channels)


def fold_pair(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new conv computing ``bn(conv(x))`` for an eval-mode ``bn`` (module docstring's formula; worked out in
    float64, stored in the conv's dtype on its device); ``conv`` and ``bn`` are left unchanged."""
    weight = conv.weight.detach()  # (C_out, C_in / groups, kh, kw)
    dtype, device = weight.dtype, weight.device
    mean = bn.running_mean.detach().double()  # (C_out,)
    var = bn.running_var.detach().double()  # (C_out,)
    gamma = bn.weight.detach().double() if bn.weight is not None else torch.ones_like(mean)  # (C_out,)
    beta = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(mean)  # (C_out,)
    bias = conv.bias.detach().double() if conv.bias is not None else torch.zeros_like(mean)  # (C_out,)
    scale = gamma / torch.sqrt(var + bn.eps)  # (C_out,)
    out = copy.deepcopy(conv)
    out.weight = nn.Parameter((weight.double() * scale[:, None, None, None]).to(dtype), conv.weight.requires_grad)
    out.bias = nn.Parameter(((bias - mean) * scale + beta).to(dtype=dtype, device=device), conv.weight.requires_grad)
    return out


def folded(model: nn.Module) -> nn.Module:
    """``model`` with every :func:`foldable` batch norm folded into its conv, as a copy (``model`` itself is never
    changed); ``model`` itself where there is nothing to fold (OpenPose's VGG preset has no batch norm)."""
    pairs = [name for name, m in model.named_modules() if foldable(m)]
    if not pairs:
        return model
    out = copy.deepcopy(model)
    for name in pairs:
        block = out.get_submodule(name)
        block.conv = fold_pair(block.conv, block.bn)
        block.bn = nn.Identity()
    LOG.debug("folded %d batch norms into their convs for inference", len(pairs))
    return out
