"""The CPM training loss: masked L2 between predicted and target belief maps at every stage.

Every stage's output (stage 1 included) is compared with the same targets, as in OpenPose's Caffe model and the
TensorFlow training script of hand_detector_train. Per stage the loss is ``0.5 * sum(w_c * (pred - target)**2) / N``:
summed over maps and pixels, averaged over the batch, with the 1/2 of Caffe's EuclideanLoss and ``tf.nn.l2_loss`` so
that the numbers read like hand_detector_train's ``loss`` / ``loss_ll_heat``. The keypoint maps are weighted by the
keypoint weights of the codec (``data.codec.encode``: 0 where a keypoint is unlabelled or outside the crop); the
background map always has weight 1 (it is defined everywhere: 1 - max of the labelled keypoints' maps). The total
is the sum over stages.
"""

from __future__ import annotations

import torch
from torch import Tensor


def map_weights(weights: Tensor, num_maps: int) -> Tensor:
    """Per-map weights (N, num_maps): the keypoint weights (N, K) followed by 1 for each extra (background) map."""
    n, k = weights.shape
    if num_maps < k:
        raise ValueError(f"{num_maps} maps cannot hold {k} keypoint weights")
    extra = torch.ones(n, num_maps - k, dtype=weights.dtype, device=weights.device)  # (N, 1) background
    return torch.cat([weights, extra], dim=1)  # (N, num_maps)


def stage_loss(pred: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """0.5 * sum over maps and pixels of mask * squared error, averaged over the batch; a 0-dim fp32 tensor."""
    diff = pred.float() - targets.float()  # (N, C, h, w); fp32 even under bf16 autocast
    per_map = diff.square().sum(dim=(2, 3))  # (N, C)
    return 0.5 * (per_map * mask).sum() / pred.shape[0]


def cpm_loss(stage_maps: list[Tensor], targets: Tensor, weights: Tensor) -> tuple[Tensor, list[Tensor]]:
    """Masked L2 at every stage.

    stage_maps: one (N, 22, h, w) tensor per stage; targets: (N, 22, h, w); weights: (N, 21) keypoint weights.
    Returns (total, per_stage): the sum over stages and the list of each stage's loss (0-dim fp32 tensors);
    ``per_stage[-1]`` is the last stage's loss (hand_detector_train's ``loss_ll_heat``).
    """
    if not stage_maps:
        raise ValueError("cpm_loss needs at least one stage's maps")
    if targets.dim() != 4 or weights.dim() != 2 or weights.shape[0] != targets.shape[0]:
        raise ValueError(f"targets must be (N, C, h, w) and weights (N, K); got {tuple(targets.shape)} and "
                         f"{tuple(weights.shape)}")
    mask = map_weights(weights.float(), targets.shape[1])  # (N, 22)
    per_stage = []
    for i, pred in enumerate(stage_maps):
        if pred.shape != targets.shape:
            raise ValueError(f"stage {i + 1} maps {tuple(pred.shape)} do not match targets {tuple(targets.shape)}")
        per_stage.append(stage_loss(pred, targets, mask))
    total = torch.stack(per_stage).sum()
    return total, per_stage
