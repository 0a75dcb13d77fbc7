"""The detector's loss: CenterNet's focal loss on the hand-centre heatmap, L1 on size and offset at the hand
centres, binary cross-entropy on handedness at the centres of hands whose side is known.

Focal loss (CenterNet, Zhou et al. 2019, alpha = 2, beta = 4), with p the predicted and y the target heatmap::

    -1/N_pos * sum( (1 - p)^2 log p            where y == 1
                    (1 - y)^4 p^2 log(1 - p)   elsewhere )

``log p`` and ``log(1 - p)`` come from ``logsigmoid`` of the logits (no clamping). The regression and handedness
terms average over the hands of the batch (at least one). Each part is multiplied by its weight in
``LOSS_WEIGHTS`` and the total is their sum. Computed in float32 whatever the outputs' dtype (bf16 autocast).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSS_NAMES: list[str] = ["heatmap", "size", "offset", "side"]  # "side": left or right
LOSS_WEIGHTS: dict[str, float] = {"heatmap": 1.0, "size": 1.0, "offset": 1.0, "side": 0.5}


def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's focal loss of (N, 1, h, w) logits against a (N, 1, h, w) Gaussian target; a scalar."""
    logits, target = logits.float(), target.float()
    p = torch.sigmoid(logits)
    pos = target.eq(1.0).float()  # (N, 1, h, w)
    pos_term = (1.0 - p).pow(2) * F.logsigmoid(logits) * pos
    neg_term = (1.0 - target).pow(4) * p.pow(2) * F.logsigmoid(-logits) * (1.0 - pos)
    return -(pos_term.sum() + neg_term.sum()) / pos.sum().clamp(min=1.0)


def gather_at(maps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) maps at flat cell ``index`` (N, K) -> (N, K, C) float32."""
    N, C = maps.shape[:2]
    flat = maps.float().reshape(N, C, -1)  # (N, C, h*w)
    return flat.gather(2, index[:, None, :].expand(N, C, index.shape[1])).permute(0, 2, 1)


def detection_loss(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor,
                                                                                                list[torch.Tensor]]:
    """(total, parts in ``LOSS_NAMES`` order, each weighted) of the network's outputs against a batch's targets."""
    device = outputs["heatmap"].device
    t = {k: batch[k].to(device, non_blocking=True) for k in ("heatmap", "index", "size", "offset", "left", "mask",
                                                              "left_mask")}
    mask = t["mask"].float()  # (N, K)
    hands = mask.sum().clamp(min=1.0)
    heat = focal_loss(outputs["heatmap"], t["heatmap"])
    size = (F.l1_loss(gather_at(outputs["size"], t["index"]), t["size"], reduction="none").sum(-1) * mask).sum()
    offset = (F.l1_loss(gather_at(outputs["offset"], t["index"]), t["offset"], reduction="none").sum(-1)
              * mask).sum()
    side_mask = mask * t["left_mask"].float()  # (N, K)
    side_logit = gather_at(outputs["left"], t["index"])[..., 0]  # (N, K)
    side = (F.binary_cross_entropy_with_logits(side_logit, t["left"].float(), reduction="none") * side_mask).sum()
    parts = [heat, size / hands, offset / hands, side / side_mask.sum().clamp(min=1.0)]
    parts = [p * LOSS_WEIGHTS[name] for name, p in zip(LOSS_NAMES, parts)]
    return torch.stack(parts).sum(), parts
