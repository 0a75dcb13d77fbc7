"""Belief-map codec: round trip, one channel per keypoint, background, weights, torch input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handpose.data import codec
from handpose.keypoints import BACKGROUND, NUM_KEYPOINTS


def _random_keypoints(rng: np.random.Generator, size: int, margin: float = 12.0) -> np.ndarray:
    kp = np.ones((NUM_KEYPOINTS, 3), dtype=np.float32)
    kp[:, :2] = rng.uniform(margin, size - 1 - margin, size=(NUM_KEYPOINTS, 2))
    return kp


def _edge_keypoints(rng: np.random.Generator, size: int) -> np.ndarray:
    """(21, 3) visible keypoints anywhere in the crop, 12 of them on its first and last pixels, corners included."""
    kp = _random_keypoints(rng, size, margin=0.0)
    edges = np.array([-0.5, 0.0, 0.3, 1.0, size - 2.0, size - 1.0, size - 0.51])  # weight 1: [-0.5, size - 0.5)
    kp[:6, 0] = edges[:6]
    kp[6:12, 1] = edges[1:]
    kp[12, :2] = (-0.5, -0.5)
    kp[13, :2] = (size - 0.51, size - 0.51)
    return kp


@pytest.mark.parametrize("size", [368, 256, 100, 61, 37])
@pytest.mark.parametrize("sigma", [1.0, 1.5, 3.0])
def test_decode_encode_round_trip(size: int, sigma: float) -> None:
    """decode(encode(k)) == k within 0.01 output cells for every keypoint of weight 1, the crop's edges included,
    at sub-pixel centres and sizes not divisible by 8."""
    rng = np.random.default_rng(size)
    for kp in (_random_keypoints(rng, size), _edge_keypoints(rng, size)):
        maps, weights = codec.encode(kp, size, stride=8, sigma=sigma)
        S = -(-size // 8)
        assert maps.shape == (22, S, S) and maps.dtype == np.float32
        assert weights.tolist() == [1.0] * 21
        xy, scores = codec.decode(maps[None])
        assert xy.shape == (1, 21, 2) and scores.shape == (1, 21)
        err_cells = np.abs(xy[0] - kp[:, :2]) / 8
        assert err_cells.max() < 0.01, err_cells.max()  # the log-parabola is exact for a sampled Gaussian
        assert (scores > 0.5).all()


def test_decode_edge_refinement_is_batched_and_bounded() -> None:
    """At the edge the one-sided fit refines each map of a batch on its own and never moves more than half a cell."""
    size = 64
    kps = [np.ones((21, 3), np.float32) for _ in range(3)]
    for n, kp in enumerate(kps):
        kp[:, :2] = 20.0
        kp[n, :2] = (0.0, size - 1.0)  # keypoint n in the bottom-left corner
    maps = np.stack([codec.encode(k, size)[0] for k in kps])  # (3, 22, 8, 8)
    xy, _ = codec.decode(maps)
    np.testing.assert_allclose(xy, np.stack(kps)[..., :2], atol=0.05)
    corner = np.zeros((1, 21, 8, 8), np.float32)  # not Gaussians: what an imperfect network may give
    corner[0, :, 0, :3] = (1.0, 0.2, 0.01)  # along x the vertex lies 0.66 cells outside: kept to half a cell
    corner[0, :, 1:3, 0] = (1e-3, 0.5)  # along y the logs have no maximum: the edge cell itself
    xy, _ = codec.decode(corner)
    np.testing.assert_allclose((xy[0] + 0.5) / 8 - 0.5, np.tile([-0.5, 0.0], (21, 1)), atol=1e-6)


def test_each_keypoint_in_its_own_channel() -> None:
    """Channel k peaks at keypoint k, for every k: nothing is merged, dropped or remapped."""
    size = 368
    kp = np.zeros((21, 3), dtype=np.float32)
    kp[:, 2] = 1
    # 21 well separated points on a 7 x 3 grid
    kp[:, 0] = 30 + 50 * (np.arange(21) % 7)
    kp[:, 1] = 60 + 110 * (np.arange(21) // 7) + 0.3
    maps, weights = codec.encode(kp, size)
    assert (weights == 1).all()
    for k in range(NUM_KEYPOINTS):
        y, x = np.unravel_index(maps[k].argmax(), maps[k].shape)
        assert (x, y) == (round((kp[k, 0] + 0.5) / 8 - 0.5), round((kp[k, 1] + 0.5) / 8 - 0.5)), k
        assert maps[k].max() > 0.75  # a peak sits at most half a cell off the grid
    xy, _ = codec.decode(maps[None])
    np.testing.assert_allclose(xy[0], kp[:, :2], atol=0.1)
    # the channels are different maps: no two keypoints share one
    flat = maps[:NUM_KEYPOINTS].reshape(21, -1).argmax(axis=1)
    assert len(set(flat.tolist())) == 21


def test_background_is_one_minus_max() -> None:
    rng = np.random.default_rng(1)
    kp = _random_keypoints(rng, 200)
    maps, _ = codec.encode(kp, 200)
    np.testing.assert_allclose(maps[BACKGROUND], 1 - maps[:21].max(axis=0), atol=1e-6)
    assert maps[BACKGROUND].min() < 0.1 and maps[BACKGROUND].max() == pytest.approx(1.0, abs=1e-6)


def test_weights_zero_for_invisible_outside_and_nonfinite() -> None:
    kp = np.full((21, 3), 50.0, dtype=np.float32)
    kp[:, 2] = 1
    kp[0, 2] = 0  # not labelled
    kp[1, :2] = (-3.0, 50.0)  # left of the crop
    kp[2, :2] = (50.0, 100.0)  # below a 100 px crop (last pixel is 99)
    kp[3, :2] = (np.nan, 10.0)
    kp[4, :2] = (np.inf, 10.0)
    kp[5, :2] = (99.4, 0.0)  # inside, at the edge
    maps, weights = codec.encode(kp, 100)
    assert weights[:5].tolist() == [0, 0, 0, 0, 0]
    assert (weights[5:] == 1).all()
    assert np.isfinite(maps).all()
    assert (maps[:5] == 0).all()  # masked channels carry no Gaussian into the background either
    assert maps[5].max() > 0.5


def test_decode_accepts_torch_and_batches() -> None:
    rng = np.random.default_rng(2)
    kps = [_random_keypoints(rng, 96) for _ in range(3)]
    batch = np.stack([codec.encode(k, 96)[0] for k in kps])  # (3, 22, 12, 12)
    xy_np, s_np = codec.decode(batch)
    xy_t, s_t = codec.decode(torch.from_numpy(batch).to(torch.bfloat16).float().requires_grad_())
    assert isinstance(xy_t, np.ndarray) and xy_t.dtype == np.float32
    for n in range(3):
        assert np.abs(xy_np[n] - kps[n][:, :2]).max() < 0.25 * 8
    assert np.abs(xy_t - xy_np).max() < 0.25 * 8
    np.testing.assert_allclose(s_t, s_np, atol=1e-2)


def test_decode_edge_and_flat_maps_are_finite() -> None:
    maps = np.zeros((2, 22, 5, 7), dtype=np.float32)
    maps[0, 3, 0, 6] = 1.0  # a peak in the corner
    maps[1] = -1.0  # a flat negative map (untrained network)
    xy, scores = codec.decode(maps)
    assert np.isfinite(xy).all() and np.isfinite(scores).all()
    assert xy[0, 3].tolist() == [6 * 8 + 3.5, 3.5]
    assert scores[1, 0] == -1.0
    with pytest.raises(ValueError):
        codec.decode(np.zeros((22, 5, 5)))


def test_codec_object_round_trips_with_the_config_it_was_built_from() -> None:
    """HeatmapCodec holds stride and sigma once: its decode inverts its encode at a stride-8 crop of any size."""
    from handpose.config import DataConfig

    c = codec.HeatmapCodec.from_config(DataConfig(input_size=100, stride=8, sigma=2.0))
    assert (c.input_size, c.stride, c.sigma, c.map_size) == (100, 8, 2.0, 13)
    kp = _random_keypoints(np.random.default_rng(3), 100)
    maps, weights = c.encode(kp)
    assert maps.shape == (22, 13, 13) and weights.sum() == 21
    xy, _ = c.decode(torch.from_numpy(maps[None]))
    np.testing.assert_allclose(xy[0], kp[:, :2], atol=0.08)


@pytest.mark.parametrize("bad", [dict(stride=0), dict(sigma=0.0), dict(input_size=0)])
def test_codec_refuses_settings_that_cannot_work(bad: dict) -> None:
    with pytest.raises(ValueError, match="HeatmapCodec needs"):
        codec.HeatmapCodec(**{"input_size": 64, **bad})


@pytest.mark.parametrize("sigma", [0.5, 2.0, 3.0])
def test_the_gaussian_has_the_sigma_asked_for(sigma: float) -> None:
    """A keypoint on a cell centre (crop x = 8 c + 3.5) gives exp(-d^2 / (2 sigma^2)) at d cells from it: the targets
    are as wide as configured (decoding alone cannot tell, it is exact for a Gaussian of any width)."""
    kp = np.zeros((21, 3), np.float32)
    kp[:, :2] = (8 * 5 + 3.5, 8 * 6 + 3.5)  # cell (5, 6)
    kp[:, 2] = 1
    maps, _ = codec.encode(kp, 128, stride=8, sigma=sigma)
    assert maps[0, 6, 5] == pytest.approx(1.0)
    for d in (1, 2):
        want = np.exp(-d * d / (2 * sigma * sigma))
        assert maps[0, 6, 5 + d] == pytest.approx(want, rel=1e-5)  # along x
        assert maps[0, 6 - d, 5] == pytest.approx(want, rel=1e-5)  # along y
    assert maps[0, 7, 6] == pytest.approx(np.exp(-2 / (2 * sigma * sigma)), rel=1e-5)  # diagonal


@pytest.mark.parametrize("h, w", [(10, 4), (4, 10)])
def test_decode_of_maps_that_are_not_square(h: int, w: int) -> None:
    """Each axis is refined over its own length: a peak far along the longer axis, or on the last row of the
    shorter one, decodes where it is. The map is a Gaussian within 2 cells of its peak and 0 beyond (as a network's
    map, it is no Gaussian far away), so only the cells beside the peak can give its sub-cell position."""
    cx, cy = (1.3, 7.2) if h > w else (7.2, 2.8)  # cells
    xs, ys = np.arange(w), np.arange(h)
    g = np.exp(-((xs[None, :] - cx) ** 2 + (ys[:, None] - cy) ** 2) / 2.0)  # (h, w), sigma 1 cell
    near = (np.abs(xs[None, :] - round(cx)) <= 2) & (np.abs(ys[:, None] - round(cy)) <= 2)
    maps = np.zeros((1, 21, h, w), np.float32)
    maps[0, :] = g * near
    xy, _ = codec.decode(maps, stride=8)
    # cell c is crop pixel (c + 0.5) * 8 - 0.5
    np.testing.assert_allclose(xy[0], np.tile([(cx + 0.5) * 8 - 0.5, (cy + 0.5) * 8 - 0.5], (21, 1)), atol=1e-3)


def test_a_keypoint_on_the_crops_far_edge_is_outside() -> None:
    """The crop holds [-0.5, size - 0.5): a keypoint exactly on its far edge is masked, one just before it is not."""
    kp = np.full((21, 3), 40.0, np.float32)
    kp[:, 2] = 1
    kp[0, 0] = 99.5  # x on the far edge of a 100 px crop
    kp[1, 1] = 99.5  # y on it
    kp[2, :2] = (99.49, 99.49)
    _, weights = codec.encode(kp, 100)
    assert weights[:3].tolist() == [0.0, 0.0, 1.0]


def test_the_codec_object_uses_its_own_stride_and_sigma() -> None:
    """A stride-4 codec (models with output_stride 4) of sigma 2: maps 64 / 4 = 16 cells; a keypoint at crop
    x = 4 c + 1.5 sits on cell c's centre, the next cell holds exp(-1 / 8); decoding gives the keypoint back."""
    from handpose.config import DataConfig

    c = codec.HeatmapCodec.from_config(DataConfig(input_size=64, stride=4, sigma=2.0))
    assert (c.input_size, c.stride, c.sigma, c.map_size) == (64, 4, 2.0, 16)
    kp = np.zeros((21, 3), np.float32)
    kp[:, :2] = (4 * 9 + 1.5, 4 * 3 + 1.5)  # cell (9, 3)
    kp[:, 2] = 1
    maps, _ = c.encode(kp)
    assert maps.shape == (22, 16, 16)
    assert maps[0, 3, 9] == pytest.approx(1.0) and maps[0, 3, 10] == pytest.approx(np.exp(-1 / 8), rel=1e-5)
    xy, _ = c.decode(maps[None])
    np.testing.assert_allclose(xy[0], kp[:, :2], atol=1e-3)
