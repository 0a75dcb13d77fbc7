"""Depth-buffered rendering of tapered capsules, vectorised with numpy (one small array pass per capsule).

Each capsule is drawn inside its own screen bounding box only: for every pixel the nearest point on the projected
axis gives the distance to the axis, the interpolated projected radius says whether the pixel is covered, and a
spherical cross-section gives the depth in front of the axis and the surface normal. A pixel keeps the nearest
surface (z-buffer). Rendering runs at an internal resolution (``factor`` times smaller than the image); the
compositor upsamples premultiplied colour so that edges come out anti-aliased.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from handpose.synth.camera import Camera, clip_near

LOG = logging.getLogger(__name__)


@dataclass
class Buffers:
    """The z-buffer of one rendering at internal resolution (h, w)."""

    depth: np.ndarray  # (h, w) float32 camera z in cm, inf where empty
    normal: np.ndarray  # (h, w, 3) float32 unit normals in the camera frame (towards the camera: z < 0)
    ids: np.ndarray  # (h, w) int16 capsule index, -1 where empty
    factor: int  # image pixels per internal pixel


def internal_coords(points_px: np.ndarray, factor: int) -> np.ndarray:
    """Image pixel coordinates -> internal-grid coordinates (pixel centres at integers in both)."""
    return (points_px + 0.5) / factor - 0.5


def _split_long(a: np.ndarray, b: np.ndarray, ra: np.ndarray, rb: np.ndarray, owner: np.ndarray, camera: Camera,
                factor: int) -> tuple[np.ndarray, ...]:
    """Cut capsules that are long and thin on screen into pieces, so each piece's bounding box stays tight.

    The pieces of a linearly tapered capsule cover exactly the same surface. ``owner`` maps pieces to capsules.
    """
    length = np.linalg.norm(camera.project(a) - camera.project(b), axis=1) / factor
    width = camera.f / factor * np.maximum(ra / a[:, 2], rb / b[:, 2])
    pieces = np.clip(np.ceil(length / (3.0 * width + 24.0)), 1, 12).astype(np.int64)
    if np.all(pieces == 1):
        return a, b, ra, rb, owner
    idx = np.repeat(np.arange(len(a)), pieces)
    j = np.arange(len(idx)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    t0 = (j / pieces[idx])[:, None]
    t1 = ((j + 1) / pieces[idx])[:, None]
    d, dr = b[idx] - a[idx], (rb - ra)[idx]
    return (a[idx] + t0 * d, a[idx] + t1 * d, ra[idx] + t0[:, 0] * dr, ra[idx] + t1[:, 0] * dr, owner[idx])


def render_capsules(
    a: np.ndarray, b: np.ndarray, ra: np.ndarray, rb: np.ndarray, camera: Camera, size: int, factor: int = 2
) -> Buffers:
    """Render capsules a-b (M, 3) camera frame, radii ra, rb (M,) in cm, into a z-buffer of ceil(size/factor)^2."""
    n = -(-size // factor)
    depth = np.full((n, n), np.inf, np.float32)
    nx, ny, nz = (np.zeros((n, n), np.float32) for _ in range(3))
    ids = np.full((n, n), -1, np.int16)
    a, b, keep = clip_near(a, b)
    f = camera.f / factor
    owner = np.flatnonzero(keep).astype(np.int16)
    a, b, ra, rb, owner = _split_long(a[keep], b[keep], ra[keep], rb[keep], owner, camera, factor)
    pa = internal_coords(camera.project(a), factor)  # (M, 2)
    pb = internal_coords(camera.project(b), factor)
    rho_a = f * ra / a[:, 2]  # projected radii, internal px
    rho_b = f * rb / b[:, 2]
    lo = np.floor(np.minimum(pa - rho_a[:, None], pb - rho_b[:, None])).astype(np.int64)
    hi = np.ceil(np.maximum(pa + rho_a[:, None], pb + rho_b[:, None])).astype(np.int64) + 1
    boxes = np.concatenate([np.clip(lo, 0, n), np.clip(hi, 0, n)], 1).tolist()  # x0, y0, x1, y1
    d = pb - pa
    inv_len2 = 1.0 / np.maximum((d * d).sum(1), 1e-6)
    params = np.stack([pa[:, 0], pa[:, 1], d[:, 0] * inv_len2, d[:, 1] * inv_len2, d[:, 0], d[:, 1], rho_a,
                       rho_b - rho_a, ra, rb - ra, a[:, 2], b[:, 2] - a[:, 2]], 1).tolist()
    grid = np.arange(n, dtype=np.float32)
    for i, (px, py, ux, uy, dx, dy, r0, dr, R0, dR, z0, dz) in enumerate(params):
        x0, y0, x1, y1 = boxes[i]
        if x1 <= x0 or y1 <= y0:
            continue
        X = grid[x0:x1] - px  # (w,)
        Y = grid[y0:y1, None] - py  # (h, 1)
        t = X * ux + Y * uy  # (h, w) position along the axis
        np.maximum(t, 0.0, out=t)
        np.minimum(t, 1.0, out=t)
        ex = X - t * dx  # offset from the axis
        ey = Y - t * dy
        inv_rho = 1.0 / (r0 + t * dr)
        ex *= inv_rho
        ey *= inv_rho
        q = 1.0 - ex * ex - ey * ey  # > 0 inside
        inside = q > 0.0
        np.maximum(q, 0.0, out=q)
        h = np.sqrt(q)
        z = z0 + t * dz - (R0 + t * dR) * h
        win = depth[y0:y1, x0:x1]
        upd = inside & (z < win)
        np.copyto(win, z, where=upd)
        np.copyto(ids[y0:y1, x0:x1], owner[i], where=upd)
        np.copyto(nx[y0:y1, x0:x1], ex, where=upd)
        np.copyto(ny[y0:y1, x0:x1], ey, where=upd)
        h *= -1.0
        np.copyto(nz[y0:y1, x0:x1], h, where=upd)
    normal = np.stack([nx, ny, nz], axis=-1)
    return Buffers(depth=depth, normal=normal, ids=ids, factor=factor)


@dataclass
class Light:
    """Lambert + ambient + a weak Blinn specular; ``direction`` points from the surface to the light."""

    direction: np.ndarray  # (3,) unit, camera frame
    ambient: float
    diffuse: float
    specular: float
    shininess: float


def shade(buf: Buffers, colors: np.ndarray, light: Light, tint: np.ndarray | None = None,
          tint_colors: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shaded colour (h, w, 3) float32 BGR 0..255 premultiplied by coverage, and coverage (h, w) float32.

    ``colors`` (M, 3) per capsule. ``tint`` (3,) camera-frame direction: surfaces facing it blend towards
    ``tint_colors`` (M, 3) (the lighter palm side of a hand).
    """
    cov = buf.ids >= 0
    idx = buf.ids[cov].astype(np.int64)
    nrm = buf.normal[cov]  # (K, 3)
    col = colors[idx].astype(np.float32)  # (K, 3)
    if tint is not None and tint_colors is not None:
        w = np.clip(nrm @ tint.astype(np.float32) * 1.6 + 0.1, 0.0, 1.0)[:, None]
        col = col * (1.0 - w) + tint_colors[idx].astype(np.float32) * w
    L = light.direction.astype(np.float32)
    lam = np.maximum(nrm @ L, 0.0)
    half = L + np.array([0.0, 0.0, -1.0], np.float32)
    half /= np.linalg.norm(half) + 1e-6
    spec = np.maximum(nrm @ half, 0.0) ** light.shininess * light.specular
    val = col * (light.ambient + light.diffuse * lam)[:, None] + 255.0 * spec[:, None]
    out = np.zeros(buf.ids.shape + (3,), np.float32)
    out[cov] = val
    return out, cov.astype(np.float32)


def upsample_region(premult: np.ndarray, coverage: np.ndarray, factor: int, size: int
                    ) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None:
    """Upsample the covered part of an internal rendering to image resolution.

    Returns ((y0, y1, x0, x1) in image px, colour (H, W, 3) premultiplied, alpha (H, W)) or None when empty.
    """
    ys = np.flatnonzero(coverage.any(1))
    xs = np.flatnonzero(coverage.any(0))
    if ys.size == 0:
        return None
    n = coverage.shape[0]
    y0, y1 = max(int(ys[0]) - 1, 0), min(int(ys[-1]) + 2, n)
    x0, x1 = max(int(xs[0]) - 1, 0), min(int(xs[-1]) + 2, n)
    if factor == 1:
        col, alpha = premult[y0:y1, x0:x1], coverage[y0:y1, x0:x1]
    else:
        dsize = ((x1 - x0) * factor, (y1 - y0) * factor)
        col = cv2.resize(premult[y0:y1, x0:x1], dsize, interpolation=cv2.INTER_LINEAR)
        alpha = cv2.resize(coverage[y0:y1, x0:x1], dsize, interpolation=cv2.INTER_LINEAR)
    Y0, X0 = y0 * factor, x0 * factor
    Y1, X1 = min(y1 * factor, size), min(x1 * factor, size)
    return (Y0, Y1, X0, X1), col[: Y1 - Y0, : X1 - X0], alpha[: Y1 - Y0, : X1 - X0]
