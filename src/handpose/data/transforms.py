"""Geometry and colour of a crop: one affine matrix moves an image and its keypoints together.

Conventions: pixel centres at integer coordinates (``cv2.warpAffine``), images are BGR uint8 (H, W, 3).
A crop is described by a (2, 3) float64 matrix ``M`` mapping original-image pixels to crop pixels; the crop's
keypoints are ``apply_affine(points, M)`` and back again with ``invert_affine(M)``. Crop, random scale, rotation,
translation and horizontal flip are all folded into that one matrix, so the image is resampled once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

PAD_VALUE = 128  # border colour of a crop: 128 / 256 - 0.5 = 0 after to_network_input

# How an image becomes the network input (stored in ONNX metadata so other runtimes can reproduce it).
PREPROCESS: dict[str, object] = {
    "color_order": "BGR",
    "layout": "NCHW",
    "dtype": "float32",
    "scale": 1.0 / 256.0,
    "offset": -0.5,  # x = pixel / 256 - 0.5 (OpenPose's)
    "pad_value": PAD_VALUE,
    "pixel_centers": "integer",
}


def square_box(box: Sequence[float] | np.ndarray, padding: float) -> tuple[np.ndarray, float]:
    """Centre (2,) and side of the square around an ``[x, y, w, h]`` box: side = padding * max(w, h) (>= 1 px)."""
    x, y, w, h = (float(v) for v in box)
    center = np.array([x + w / 2.0, y + h / 2.0], dtype=np.float64)
    return center, max(max(w, h), 1.0) * float(padding)


def visible_box(keypoints: np.ndarray) -> np.ndarray | None:
    """The tight ``[x, y, w, h]`` (float32) box of the visible, finite keypoints; None when there is none."""
    kp = np.asarray(keypoints, dtype=np.float64)
    ok = (kp[:, 2] > 0) & np.isfinite(kp[:, :2]).all(axis=1)
    if not ok.any():
        return None
    lo = kp[ok, :2].min(axis=0)
    hi = kp[ok, :2].max(axis=0)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], dtype=np.float32)


def crop_matrix(
    center: Sequence[float] | np.ndarray,
    side: float,
    out_size: int,
    rotation_deg: float = 0.0,
    flip: bool = False,
    scale: float = 1.0,
    shift: Sequence[float] | np.ndarray = (0.0, 0.0),
) -> np.ndarray:
    """(2, 3) float64 matrix mapping original pixels to an ``out_size`` square crop.

    The square of side ``side * scale`` centred on ``center + shift`` (original pixels) fills the crop; it is
    rotated by ``rotation_deg`` (counter-clockwise as displayed, like ``cv2.getRotationMatrix2D``) about the crop
    centre, then mirrored left-right when ``flip``. ``scale > 1`` shows more context (the hand appears smaller).
    """
    c = np.asarray(center, dtype=np.float64) + np.asarray(shift, dtype=np.float64)
    s = out_size / (float(side) * float(scale))
    a = math.radians(rotation_deg)
    cos, sin = math.cos(a), math.sin(a)
    A = s * np.array([[cos, sin], [-sin, cos]], dtype=np.float64)  # rotation and zoom (y points down)
    if flip:
        A[0] = -A[0]
    mid = (out_size - 1) / 2.0
    M = np.empty((2, 3), dtype=np.float64)
    M[:, :2] = A
    M[:, 2] = mid - A @ c
    return M


def invert_affine(M: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix (crop pixels -> original pixels)."""
    M = np.asarray(M, dtype=np.float64)
    A_inv = np.linalg.inv(M[:, :2])
    out = np.empty((2, 3), dtype=np.float64)
    out[:, :2] = A_inv
    out[:, 2] = -A_inv @ M[:, 2]
    return out


def apply_affine(points: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Move points (..., 2) by M (2, 3); or a batch: points (N, ..., 2) by M (N, 2, 3). Returns float64."""
    p = np.asarray(points, dtype=np.float64)
    M = np.asarray(M, dtype=np.float64)
    if M.ndim == 2:
        return p @ M[:, :2].T + M[:, 2]
    n = M.shape[0]
    flat = p.reshape(n, -1, 2)  # (N, P, 2)
    out = np.einsum("npj,nij->npi", flat, M[:, :, :2]) + M[:, None, :, 2]
    return out.reshape(p.shape)


def transform_keypoints(keypoints: np.ndarray, M: np.ndarray) -> np.ndarray:
    """(21, 3) ``[x, y, v]`` moved by M; visibility is kept as is (the target encoder masks points outside)."""
    kp = np.asarray(keypoints, dtype=np.float32)
    out = kp.copy()
    out[:, :2] = apply_affine(kp[:, :2], M).astype(np.float32)
    return out


def warp(image: np.ndarray, M: np.ndarray, out_size: int) -> np.ndarray:
    """Resample ``image`` (H, W, 3) uint8 through M into an (out_size, out_size, 3) crop (bilinear, grey border).

    OpenCV's bilinear warp is about twice as fast on 4-channel images, so a source that is not much larger than the
    crop is warped as BGRA (the conversion costs less than it saves); the result is identical.
    """
    M = np.asarray(M, dtype=np.float64)
    size = (int(out_size), int(out_size))
    if image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8 and (
        image.shape[0] * image.shape[1] <= 4 * size[0] * size[1]
    ):
        bgra = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
        out = cv2.warpAffine(bgra, M, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=(PAD_VALUE, PAD_VALUE, PAD_VALUE, 255))
        return cv2.cvtColor(out, cv2.COLOR_BGRA2BGR)
    border = (PAD_VALUE,) * (image.shape[2] if image.ndim == 3 else 1)
    return cv2.warpAffine(image, M, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def to_network_input(img: np.ndarray) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> float32 (3, H, W) = img / 256 - 0.5; a batch (N, H, W, 3) -> (N, 3, H, W)."""
    arr = np.asarray(img)
    if arr.ndim == 3:
        out = np.ascontiguousarray(arr.transpose(2, 0, 1)).astype(np.float32)  # (3, H, W): transpose the bytes first
    elif arr.ndim == 4:
        out = np.ascontiguousarray(arr.transpose(0, 3, 1, 2)).astype(np.float32)  # (N, 3, H, W)
    else:
        raise ValueError(f"to_network_input: expected (H, W, 3) or (N, H, W, 3), got shape {arr.shape}")
    out *= np.float32(1.0 / 256.0)  # in place: several times faster than a chained expression
    out -= np.float32(0.5)
    return out


_LUMA_BGR = np.array([0.114, 0.587, 0.299])


def color_matrix(brightness: float, contrast: float, saturation: float, hue_deg: float, mean: float) -> np.ndarray:
    """(3, 4) float32 affine colour map of BGR pixels: saturation, hue rotation, brightness, contrast about ``mean``.

    Saturation mixes each channel with the luma; hue rotates colours about the grey axis (Rodrigues); both keep
    greys grey. Contrast scales about the mean grey level of the brightened image.
    """
    S = saturation * np.eye(3) + (1.0 - saturation) * np.outer(np.ones(3), _LUMA_BGR)
    a = math.radians(hue_deg)
    K = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]]) / math.sqrt(3.0)  # cross product with grey
    R = math.cos(a) * np.eye(3) + (1.0 - math.cos(a)) / 3.0 * np.ones((3, 3)) + math.sin(a) * K
    out = np.empty((3, 4), dtype=np.float64)
    out[:, :3] = contrast * brightness * (R @ S)
    out[:, 3] = (1.0 - contrast) * brightness * mean
    return out.astype(np.float32)


def color_jitter(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Random brightness, contrast, saturation and hue of a BGR uint8 image, in one ``cv2.transform`` pass.

    ``strength`` s in [0, 1]: brightness, contrast and saturation factors uniform in [1 - s, 1 + s], hue rotation
    uniform in [-30 s, 30 s] degrees. Returns a new uint8 image (saturated to [0, 255]).
    """
    if strength <= 0:
        return image
    s = float(strength)
    b, c, sat = rng.uniform(1 - s, 1 + s, size=3)
    hue = rng.uniform(-s, s) * 30.0
    mean = float(np.mean(cv2.mean(image)[:3]))
    return cv2.transform(image, color_matrix(b, c, sat, hue, mean))


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with the given sigma in pixels (kernel size from OpenCV's default rule)."""
    if sigma <= 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma))
