"""The CPM loss: known values on tiny tensors, every stage contributes, masking, shapes and dtypes."""

from __future__ import annotations

import pytest
import torch

from handpose.training.losses import cpm_loss, map_weights


def _zeros(n: int = 2, c: int = 22, h: int = 3, w: int = 3) -> torch.Tensor:
    return torch.zeros(n, c, h, w)


def test_known_value_single_stage() -> None:
    targets = _zeros()
    pred = _zeros()
    pred[0, 0, 1, 1] = 2.0  # squared error 4 on sample 0, keypoint 0
    pred[1, 21, 0, 0] = 1.0  # squared error 1 on sample 1, background
    weights = torch.ones(2, 21)
    total, per_stage = cpm_loss([pred], targets, weights)
    # 0.5 * (4 + 1) / batch of 2
    assert total.item() == pytest.approx(1.25)
    assert len(per_stage) == 1 and per_stage[0].item() == pytest.approx(1.25)


def test_sum_over_stages_and_last_stage() -> None:
    targets = torch.rand(3, 22, 4, 4)
    weights = torch.ones(3, 21)
    s1 = targets + 1.0  # every element off by 1: 0.5 * 22*16 per sample
    s2 = targets + 2.0  # off by 2: 4x that
    total, per_stage = cpm_loss([s1, s2], targets, weights)
    assert per_stage[0].item() == pytest.approx(0.5 * 22 * 16)
    assert per_stage[1].item() == pytest.approx(2.0 * 22 * 16)
    assert total.item() == pytest.approx(per_stage[0].item() + per_stage[1].item())


def test_every_stage_gets_a_gradient() -> None:
    targets = torch.rand(2, 22, 3, 3)
    weights = torch.ones(2, 21)
    stages = [torch.rand(2, 22, 3, 3, requires_grad=True) for _ in range(3)]
    total, _ = cpm_loss(stages, targets, weights)
    total.backward()
    for s in stages:
        assert s.grad is not None and s.grad.abs().sum() > 0
        # d/dp 0.5*(p-t)^2/N = (p-t)/N
        torch.testing.assert_close(s.grad, (s.detach() - targets) / 2)


def test_masking_ignores_unlabelled_keypoints_but_not_background() -> None:
    targets = _zeros(n=1)
    pred = _zeros(n=1)
    pred[0, 5] = 10.0  # keypoint 5 badly wrong...
    weights = torch.ones(1, 21)
    weights[0, 5] = 0.0  # ...but unlabelled: no loss
    total, _ = cpm_loss([pred], targets, weights)
    assert total.item() == 0.0
    pred[0, 21, 0, 0] = 1.0  # the background map always counts
    total, _ = cpm_loss([pred], targets, weights)
    assert total.item() == pytest.approx(0.5)
    weights[0, 5] = 0.5  # fractional weights scale the map's error
    total, _ = cpm_loss([pred], targets, weights)
    assert total.item() == pytest.approx(0.5 + 0.5 * 0.5 * 100 * 9)


def test_bf16_predictions_give_fp32_loss() -> None:
    targets = torch.rand(2, 22, 3, 3)
    pred = (targets + 1).bfloat16()
    total, per_stage = cpm_loss([pred], targets, torch.ones(2, 21))
    assert total.dtype == torch.float32 and per_stage[0].dtype == torch.float32


def test_map_weights_appends_background() -> None:
    w = torch.zeros(2, 21)
    m = map_weights(w, 22)
    assert m.shape == (2, 22) and m[:, 21].tolist() == [1.0, 1.0] and m[:, :21].sum() == 0


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="stage 2"):
        cpm_loss([_zeros(), _zeros(h=4)], _zeros(), torch.ones(2, 21))
    with pytest.raises(ValueError):
        cpm_loss([], _zeros(), torch.ones(2, 21))
