"""Belief-map codec: keypoints <-> 22 maps at output stride 8 (21 Gaussians + background).

:class:`HeatmapCodec` is the one object the pipeline uses: built once from a ``DataConfig`` (input size, stride,
sigma), it encodes training targets and decodes network output, so the two can never disagree on stride or sigma
(as MMPose's codecs bundle both). :func:`encode` and :func:`decode` are its plain-function implementation.

Input pixel ``x`` and output cell ``u`` are related by ``u = (x + 0.5) / stride - 0.5`` (pixel centres at integer
coordinates on both grids), so a network whose maps are ``ceil(H / stride)`` cells high is exact for any size.
The Gaussians are computed directly at output resolution around sub-pixel centres (no render-then-resize), channel
``k`` is keypoint ``k`` (``keypoints.NAMES`` order), channel 21 is the background ``1 - max``.
:func:`decode` inverts :func:`encode` to within a small fraction of a cell, up to the map's edges (argmax +
log-parabola refinement, exact for a sampled Gaussian).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from handpose.keypoints import BACKGROUND, NUM_KEYPOINTS, NUM_MAPS

if TYPE_CHECKING:
    from handpose.config import DataConfig

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
    maps = np.empty((NUM_MAPS, S, S), dtype=np.float32)
    maps[:NUM_KEYPOINTS] = gy[:, :, None] * gx[:, None, :]  # (21, S, S)
    maps[BACKGROUND] = 1.0 - maps[:NUM_KEYPOINTS].max(axis=0)
    return maps, weights


def _as_numpy(maps: object) -> np.ndarray:
    """numpy float32 view of a numpy array or torch tensor (detached, on the CPU)."""
    if isinstance(maps, np.ndarray):
        return maps.astype(np.float32, copy=False)
    detach = getattr(maps, "detach", None)
    if detach is not None:  # a torch.Tensor; torch is not imported here
        return detach().float().cpu().numpy()
    return np.asarray(maps, dtype=np.float32)


def _log_vertex(left: np.ndarray, center: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offset, ok) of the vertex of the parabola through the logs of three consecutive samples, each (M,): offset
    from the middle sample in cells, and whether the parabola has a maximum (False: flat, or a one-cell spike)."""
    ll, lc, lr = (np.log(np.maximum(np.nan_to_num(a, nan=0.0), _EPS)) for a in (left, center, right))
    denom = ll - 2.0 * lc + lr
    ok = denom < -1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.where(ok, 0.5 * (ll - lr) / denom, 0.0)
    return off, ok


def _subcell(p: np.ndarray, n: int, sample: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Sub-cell peak coordinate along one axis of ``n`` cells, from the argmax cells ``p`` (M,) and ``sample(cells)``,
    the (M,) map values at those cells along the axis.

    The parabola goes through the log of three consecutive cells: ``p`` and its two neighbours inside the map, and at
    an edge the edge cell with its two inner neighbours (a one-sided fit; the log of a Gaussian is a parabola, so both
    are exact for a sampled Gaussian). The result stays within half a cell of ``p``; it is ``p`` itself where the
    parabola has no maximum or the axis has fewer than 3 cells.
    """
    if n < 3:
        return p.astype(np.float64)
    q = np.clip(p, 1, n - 2)  # (M,) middle of the three cells
    off, ok = _log_vertex(sample(q - 1), sample(q), sample(q + 1))
    return np.clip(np.where(ok, q + off, p), p - 0.5, p + 0.5)


def decode(maps: object, stride: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints from belief maps.

    Args:
        maps: (N, C >= 21, h, w) numpy array or torch tensor; channels 0..20 are the keypoints (background ignored).
        stride: output stride.
    Returns:
        xy: (N, 21, 2) float32 in input (crop) pixels: argmax cell refined by a parabola through the log of the
            map along each axis (exact for a sampled Gaussian, at the map's edges too; see ``_subcell``).
        scores: (N, 21) float32, the maximum of each map.
    """
    m = _as_numpy(maps)
    if m.ndim != 4 or m.shape[1] < NUM_KEYPOINTS:
        raise ValueError(f"decode: expected maps of shape (N, C>=21, h, w), got {tuple(m.shape)}")
    N, _, h, w = m.shape
    m = np.ascontiguousarray(m[:, :NUM_KEYPOINTS]).reshape(N * NUM_KEYPOINTS, h * w)  # (N*21, h*w)
    idx = m.argmax(axis=1)  # (N*21,)
    rows = np.arange(m.shape[0])
    peak = np.nan_to_num(m[rows, idx], nan=0.0)  # (N*21,)
    py, px = np.divmod(idx, w)
    u = _subcell(px, w, lambda xx: m[rows, py * w + xx])  # (N*21,) output cells
    v = _subcell(py, h, lambda yy: m[rows, yy * w + px])
    xy = np.stack([(u + 0.5) * stride - 0.5, (v + 0.5) * stride - 0.5], axis=-1)  # (N*21, 2) input pixels
    return xy.reshape(N, NUM_KEYPOINTS, 2).astype(np.float32), peak.reshape(N, NUM_KEYPOINTS).astype(np.float32)


def keypoint_distances(maps_a: object, maps_b: object, stride: int = 8) -> np.ndarray:
    """(N, 21) distances in crop pixels between the keypoints decoded from two sets of (N, C, h, w) maps (how far
    an exported or quantized network moves the keypoints)."""
    return np.linalg.norm(decode(maps_a, stride)[0] - decode(maps_b, stride)[0], axis=-1)


@dataclass(frozen=True)
class HeatmapCodec:
    """Encode and decode with one input size, stride and sigma (plain data, picklable for data-loader workers)."""

    input_size: int
    stride: int = 8
    sigma: float = 1.0

    def __post_init__(self) -> None:
        if self.stride < 1 or self.input_size < 1 or not self.sigma > 0:
            raise ValueError(f"HeatmapCodec needs input_size >= 1, stride >= 1 and sigma > 0, got {self}")

    @classmethod
    def from_config(cls, cfg: DataConfig) -> HeatmapCodec:
        """The codec of a data config's crops."""
        return cls(int(cfg.input_size), int(cfg.stride), float(cfg.sigma))

    @property
    def map_size(self) -> int:
        """Side of the output maps."""
        return output_size(self.input_size, self.stride)

    def encode(self, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(21, 3) crop px -> maps (22, S, S) and weights (21,); see :func:`encode`."""
        return encode(keypoints, self.input_size, self.stride, self.sigma)

    def absent(self) -> tuple[np.ndarray, np.ndarray]:
        """Targets of a crop that holds no hand (a hard negative): maps (22, S, S) with every keypoint map 0 and the
        background 1, and weights (21,) all 1, so that every keypoint map is trained towards 0 there."""
        S = self.map_size
        maps = np.zeros((NUM_MAPS, S, S), dtype=np.float32)
        maps[BACKGROUND] = 1.0
        return maps, np.ones(NUM_KEYPOINTS, dtype=np.float32)

    def decode(self, maps: object) -> tuple[np.ndarray, np.ndarray]:
        """(N, C >= 21, h, w) maps -> xy (N, 21, 2) crop px and scores (N, 21); see :func:`decode`."""
        return decode(maps, self.stride)
