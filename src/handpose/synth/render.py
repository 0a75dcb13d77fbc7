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
    """The z-buffer of one rendering at internal resolution (n, n)."""

    depth: np.ndarray  # (n, n) float32 camera z in cm, inf where empty
    nx: np.ndarray  # (n, n) float32 unit surface normal, camera frame (towards the camera: nz < 0)
    ny: np.ndarray
    nz: np.ndarray
    ids: np.ndarray  # (n, n) int16 capsule index, -1 where empty
    box: tuple[int, int, int, int]  # (y0, y1, x0, x1) internal px holding everything drawn, plus a 1 px margin
    stretch: np.ndarray  # (M,) per capsule, 1 / cos(tilt out of the image plane): its surface is r * stretch deep
    along: np.ndarray  # (n, n) float32 position 0..1 along the axis of the capsule piece seen at each pixel

    @property
    def normal(self) -> np.ndarray:
        """(n, n, 3) normals."""
        return np.stack([self.nx, self.ny, self.nz], axis=-1)


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
    pieces = np.minimum(np.maximum(np.ceil(length / (3.0 * width + 24.0)), 1), 12).astype(np.int64)
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
    # a capsule tilted out of the image plane: the ray meets its side r / cos(tilt) in front of the axis, not r
    axis, view = b - a, a + b
    sin_tilt = np.abs((axis * view).sum(1)) / (np.linalg.norm(axis, axis=1) * np.linalg.norm(view, axis=1) + 1e-9)
    stretch = 1.0 / np.sqrt(np.maximum(1.0 - sin_tilt**2, 1.0 / 9.0))  # (M,) at most 3
    owner = np.flatnonzero(keep).astype(np.int16)
    a, b, ra, rb, owner = _split_long(a[keep], b[keep], ra[keep], rb[keep], owner, camera, factor)
    inv_cos = stretch[owner]
    pa = internal_coords(camera.project(a), factor)  # (M, 2)
    pb = internal_coords(camera.project(b), factor)
    rho_a = np.maximum(f * ra / a[:, 2], 0.75)  # projected radii, internal px (thin parts stay a pixel wide)
    rho_b = np.maximum(f * rb / b[:, 2], 0.75)
    lo = np.floor(np.minimum(pa - rho_a[:, None], pb - rho_b[:, None])).astype(np.int64)
    hi = np.ceil(np.maximum(pa + rho_a[:, None], pb + rho_b[:, None])).astype(np.int64) + 1
    boxes = np.minimum(np.maximum(np.concatenate([lo, hi], 1), 0), n).tolist()  # x0, y0, x1, y1
    d = pb - pa
    inv_len2 = 1.0 / np.maximum((d * d).sum(1), 1e-6)
    params = np.stack([pa[:, 0], pa[:, 1], d[:, 0] * inv_len2, d[:, 1] * inv_len2, d[:, 0], d[:, 1], rho_a,
                       rho_b - rho_a, ra * inv_cos, (rb - ra) * inv_cos, a[:, 2], b[:, 2] - a[:, 2]], 1).tolist()
    grid = np.arange(n, dtype=np.float32)
    piece = np.zeros((n, n), np.int16)  # which piece is nearest at each pixel, and where along its axis
    along = np.zeros((n, n), np.float32)
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
        rho = r0 + t * dr
        q = ex * ex + ey * ey
        q /= rho * rho  # < 1 inside
        inside = q < 1.0
        np.minimum(q, 1.0, out=q)
        h = np.sqrt(1.0 - q)
        z = z0 + t * dz - (R0 + t * dR) * h
        win = depth[y0:y1, x0:x1]
        upd = inside & (z < win)
        np.copyto(win, z, where=upd)
        np.copyto(piece[y0:y1, x0:x1], np.int16(i), where=upd)
        np.copyto(along[y0:y1, x0:x1], t, where=upd)
    ids[depth < np.inf] = owner[piece[depth < np.inf]]
    drawn = [bx for bx in boxes if bx[2] > bx[0] and bx[3] > bx[1]]
    if drawn:
        arr = np.array(drawn)
        box = (max(int(arr[:, 1].min()) - 1, 0), min(int(arr[:, 3].max()) + 1, n),
               max(int(arr[:, 0].min()) - 1, 0), min(int(arr[:, 2].max()) + 1, n))
    else:
        box = (0, 0, 0, 0)
    # normals of the visible surface, once per pixel: the offset from the axis over the radius, and towards the camera
    y0, y1, x0, x1 = box
    P = np.array(params, np.float32).reshape(-1, 12)[:, [0, 1, 4, 5, 6, 7]][piece[y0:y1, x0:x1]]  # (h, w, 6)
    t = along[y0:y1, x0:x1]
    inv_rho = 1.0 / (P[..., 4] + t * P[..., 5])
    ex = (grid[x0:x1] - P[..., 0] - t * P[..., 2]) * inv_rho
    ey = (grid[y0:y1, None] - P[..., 1] - t * P[..., 3]) * inv_rho
    cov = ids[y0:y1, x0:x1] >= 0
    nx[y0:y1, x0:x1] = np.where(cov, ex, 0.0)
    ny[y0:y1, x0:x1] = np.where(cov, ey, 0.0)
    nz[y0:y1, x0:x1] = np.where(cov, -np.sqrt(np.maximum(1.0 - ex * ex - ey * ey, 0.0)), 0.0)
    return Buffers(depth=depth, nx=nx, ny=ny, nz=nz, ids=ids, box=box, stretch=stretch, along=along)


@dataclass
class Light:
    """Lambert + ambient + a weak Blinn specular; ``direction`` points from the surface to the light."""

    direction: np.ndarray  # (3,) unit, camera frame
    ambient: float
    diffuse: float
    specular: float
    shininess: float


def shade(buf: Buffers, colors: np.ndarray, light: Light, tint: np.ndarray | None = None,
          tint_colors: np.ndarray | None = None, nails: np.ndarray | None = None,
          nail_color: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shade the drawn box ``buf.box``: colour (h, w, 3) float32 BGR premultiplied by coverage, coverage (h, w).

    ``colors`` (M, 3) per capsule. ``tint`` (3,) camera-frame direction: surfaces facing it blend towards
    ``tint_colors`` (M, 3) (the lighter palm side of a hand). ``nails`` (M, 3) camera-frame directions (zero for
    none): the outer half of such a capsule, where its surface faces that way, takes ``nail_color`` (3,).
    """
    y0, y1, x0, x1 = buf.box
    ids = buf.ids[y0:y1, x0:x1]  # (h, w); -1 picks the appended black row below
    nx, ny, nz = buf.nx[y0:y1, x0:x1], buf.ny[y0:y1, x0:x1], buf.nz[y0:y1, x0:x1]
    zero = np.zeros((1, 3), np.float32)
    col = np.concatenate([colors.astype(np.float32), zero])[ids]  # (h, w, 3); ids == -1 picks the black row
    if tint is not None and tint_colors is not None:
        w = nx * np.float32(1.6 * tint[0]) + ny * np.float32(1.6 * tint[1]) + nz * np.float32(1.6 * tint[2]) + 0.1
        np.clip(w, 0.0, 1.0, out=w)
        col += (np.concatenate([tint_colors.astype(np.float32), zero])[ids] - col) * w[..., None]
    if nails is not None and nail_color is not None and np.any(nails):
        has_nail = np.append(np.any(nails != 0, axis=1), False)[ids]  # (h, w)
        yy, xx = np.nonzero(has_nail & (buf.along[y0:y1, x0:x1] > 0.4))
        nd = nails.astype(np.float32)[ids[yy, xx]]  # (K, 3)
        facing = nd[:, 0] * nx[yy, xx] + nd[:, 1] * ny[yy, xx] + nd[:, 2] * nz[yy, xx]
        w = np.clip((facing - 0.5) * 4.0, 0.0, 1.0)[:, None] * np.float32(0.6)
        col[yy, xx] += (nail_color.astype(np.float32) - col[yy, xx]) * w
    L = light.direction
    half = L + np.array([0.0, 0.0, -1.0])
    half /= np.linalg.norm(half) + 1e-6
    lam = nx * np.float32(L[0]) + ny * np.float32(L[1]) + nz * np.float32(L[2])
    np.maximum(lam, 0.0, out=lam)
    spec = nx * np.float32(half[0]) + ny * np.float32(half[1]) + nz * np.float32(half[2])
    np.maximum(spec, 0.0, out=spec)
    spec = spec ** np.float32(light.shininess) * np.float32(255.0 * light.specular)
    col *= (np.float32(light.ambient) + np.float32(light.diffuse) * lam)[..., None]
    col += spec[..., None]  # zero where uncovered (normal 0)
    return col, (ids >= 0).astype(np.float32)


def upsample_region(premult: np.ndarray, coverage: np.ndarray, box: tuple[int, int, int, int], factor: int,
                    size: int) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None:
    """Upsample a shaded box (internal px ``box`` = y0, y1, x0, x1) to image resolution.

    Returns ((Y0, Y1, X0, X1) in image px, colour (H, W, 3) uint8 premultiplied, alpha (H, W) uint8 0..255) or
    None when empty.
    """
    y0, y1, x0, x1 = box
    if y1 <= y0 or x1 <= x0:
        return None
    # a slight blur of premultiplied colour and coverage together anti-aliases the silhouette
    col = cv2.GaussianBlur(np.minimum(premult, 255.0).astype(np.uint8), (3, 3), 0.6)
    alpha = cv2.GaussianBlur((coverage * 255.0).astype(np.uint8), (3, 3), 0.6)
    if factor > 1:
        dsize = ((x1 - x0) * factor, (y1 - y0) * factor)
        col = cv2.resize(col, dsize, interpolation=cv2.INTER_LINEAR)
        alpha = cv2.resize(alpha, dsize, interpolation=cv2.INTER_LINEAR)
    Y0, X0 = y0 * factor, x0 * factor
    Y1, X1 = min(y1 * factor, size), min(x1 * factor, size)
    return (Y0, Y1, X0, X1), col[: Y1 - Y0, : X1 - X0], alpha[: Y1 - Y0, : X1 - X0]
