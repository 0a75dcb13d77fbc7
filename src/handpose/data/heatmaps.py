"""Belief-map codec: keypoints <-> 22 maps at output stride 8 (21 Gaussians + background).

Input pixel ``x`` and output cell ``u`` are related by ``u = (x + 0.5) / stride - 0.5`` (pixel centres at integer
coordinates on both grids), so a network whose maps are ``ceil(H / stride)`` cells high is exact for any size.
The Gaussians are computed directly at output resolution around sub-pixel centres (no render-then-resize), channel
``k`` is keypoint ``k`` (``keypoints.NAMES`` order), channel 21 is the background ``1 - max``.
:func:`decode` inverts :func:`encode` to within a small fraction of a cell (argmax + log-parabola refinement,
exact for a sampled Gaussian).
"""

from __future__ import annotations

import logging
import math

import numpy as np

from handpose.keypoints import NUM_KEYPOINTS

LOG = logging.getLogger(__name__)

_EPS = 1e-10


def output_size(input_size: int, stride: int = 8) -> int:
    """Side of the output maps for a square input: ``ceil(input_size / stride)``."""
    return int(math.ceil(input_size / stride))


def encode(
    keypoints: np.ndarray, input_size: int, stride: int = 8, sigma: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Belief-map targets of one crop.

    Args:
        keypoints: (21, 3) ``[x, y, v]`` in crop pixels.
        input_size: side of the square crop in pixels (any size; maps are ``ceil(input_size / stride)``).
        stride: output stride.
        sigma: Gaussian sigma in output cells.
    Returns:
        maps: (22, S, S) float32; channel k < 21 is a Gaussian at keypoint k (all zero where its weight is 0),
            channel 21 is ``1 - max`` over the 21.
        weights: (21,) float32; 1 for a visible keypoint inside the crop, 0 where ``v <= 0``, the coordinates are
            not finite, or the keypoint lies outside the crop ``[-0.5, input_size - 0.5)``.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.shape != (NUM_KEYPOINTS, 3):
        raise ValueError(f"encode: expected keypoints of shape (21, 3), got {kp.shape}")
    S = output_size(input_size, stride)
    xy = kp[:, :2]
    finite = np.isfinite(xy).all(axis=1)
    inside = finite & (np.nan_to_num(xy) >= -0.5).all(axis=1) & (np.nan_to_num(xy) < input_size - 0.5).all(axis=1)
    weights = ((kp[:, 2] > 0) & inside).astype(np.float32)  # (21,)
    uv = (np.where(finite[:, None], xy, 0.0) + 0.5) / stride - 0.5  # (21, 2) output cells
    grid = np.arange(S, dtype=np.float64)
    inv = -0.5 / (sigma * sigma)
    gx = np.exp(inv * (grid[None, :] - uv[:, 0:1]) ** 2)  # (21, S)
    gy = np.exp(inv * (grid[None, :] - uv[:, 1:2]) ** 2)  # (21, S)
    gx *= weights[:, None]
    maps = np.empty((NUM_KEYPOINTS + 1, S, S), dtype=np.float32)
    maps[:NUM_KEYPOINTS] = gy[:, :, None] * gx[:, None, :]  # (21, S, S)
    maps[NUM_KEYPOINTS] = 1.0 - maps[:NUM_KEYPOINTS].max(axis=0)
    return maps, weights


def _as_numpy(maps: object) -> np.ndarray:
    """numpy float32 view of a numpy array or torch tensor (detached, on the CPU)."""
    if isinstance(maps, np.ndarray):
        return maps.astype(np.float32, copy=False)
    detach = getattr(maps, "detach", None)
    if detach is not None:  # a torch.Tensor; torch is not imported here
        return detach().float().cpu().numpy()
    return np.asarray(maps, dtype=np.float32)


def _refine(center: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Sub-cell offset of a peak from its two neighbours: vertex of the parabola through their logs, in [-0.5, 0.5]."""
    lc = np.log(np.maximum(center, _EPS))
    ll = np.log(np.maximum(left, _EPS))
    lr = np.log(np.maximum(right, _EPS))
    denom = ll - 2.0 * lc + lr
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.where(denom < -1e-12, 0.5 * (ll - lr) / denom, 0.0)
    return np.clip(np.nan_to_num(off), -0.5, 0.5)


def decode(maps: object, stride: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints from belief maps.

    Args:
        maps: (N, C >= 21, h, w) numpy array or torch tensor; channels 0..20 are the keypoints (background ignored).
        stride: output stride.
    Returns:
        xy: (N, 21, 2) float32 in input (crop) pixels: argmax cell refined by a parabola through the log of the
            peak and its neighbours along each axis (exact for a sampled Gaussian); no refinement at a map edge.
        scores: (N, 21) float32, the maximum of each map.
    """
    m = _as_numpy(maps)
    if m.ndim != 4 or m.shape[1] < NUM_KEYPOINTS:
        raise ValueError(f"decode: expected maps of shape (N, C>=21, h, w), got {tuple(m.shape)}")
    N, _, h, w = m.shape
    m = np.ascontiguousarray(m[:, :NUM_KEYPOINTS]).reshape(N * NUM_KEYPOINTS, h * w)  # (N*21, h*w)
    idx = m.argmax(axis=1)  # (N*21,)
    rows = np.arange(m.shape[0])
    peak = m[rows, idx]
    py, px = np.divmod(idx, w)
    peak_clean = np.nan_to_num(peak, nan=0.0)

    def at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        return m[rows, np.clip(yy, 0, h - 1) * w + np.clip(xx, 0, w - 1)]

    ox = _refine(peak_clean, at(py, px - 1), at(py, px + 1))
    oy = _refine(peak_clean, at(py - 1, px), at(py + 1, px))
    ox = np.where((px > 0) & (px < w - 1), ox, 0.0)
    oy = np.where((py > 0) & (py < h - 1), oy, 0.0)
    u = px + ox
    v = py + oy
    xy = np.stack([(u + 0.5) * stride - 0.5, (v + 0.5) * stride - 0.5], axis=-1)  # (N*21, 2) input pixels
    return xy.reshape(N, NUM_KEYPOINTS, 2).astype(np.float32), peak_clean.reshape(N, NUM_KEYPOINTS).astype(np.float32)


def decode_to_original(maps: object, matrices: object, stride: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints in original-image pixels: :func:`decode`, then each crop's inverse affine.

    Args:
        maps: (N, C >= 21, h, w) numpy array or torch tensor.
        matrices: (N, 2, 3) original px -> crop px (the dataset's "matrix"), numpy or torch.
    Returns:
        xy (N, 21, 2) float32 original pixels, scores (N, 21) float32.
    """
    xy, scores = decode(maps, stride)  # (N, 21, 2) crop px
    M = _as_numpy(matrices).astype(np.float64)  # (N, 2, 3)
    A_inv = np.linalg.inv(M[:, :, :2])  # (N, 2, 2)
    back = np.einsum("nij,nkj->nki", A_inv, xy.astype(np.float64) - M[:, None, :, 2])  # (N, 21, 2)
    return back.astype(np.float32), scores
