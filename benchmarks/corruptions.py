"""Image corruptions and in-plane rotation of a labelled hand, for ``bench_corruptions.py``.

Each corruption takes a whole BGR uint8 image, a severity (0: the image unchanged, 1-3: milder to harsher, fixed
parameters in ``SEVERITIES``) and a random generator (for the noise and the motion's direction), and returns an image
of the same shape and dtype. Parameters are in image pixels and 0-255 grey levels: a hand of 100 px (the renders'
median box side) fills about a 128 px crop of the ``lite`` model, so a blur of 2 px is about 2 crop px.
:func:`rotate_hand` turns an image and its keypoints about a point, on a canvas grown so that nothing is cut off (the
corners grey, as past a crop's edge); the hand's box is then the tight box of its turned visible keypoints, as the
dataset readers make it (``data.formats.checks.box_of``). :func:`turn_quarters` turns a whole image and its hand
boxes by quarter turns, nothing cut or grown, for the detector (``bench_corruptions_detect.py``). OpenCV and numpy
only.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from handpose.data.photo_aug import jpeg_round_trip, motion_kernel
from handpose.data.transforms import PAD_VALUE

DARK_NOISE = 4.0  # sensor noise (sigma of 255) added to a darkened image: the less light, the noisier the picture
# name -> its parameter's description (a format string) and the parameter of severities 1, 2, 3
SEVERITIES: dict[str, tuple[str, tuple[float, ...]]] = {
    "gaussian_blur": ("sigma {:g} px", (1.0, 2.0, 4.0)),
    "motion_blur": ("{:g} px long", (5.0, 11.0, 21.0)),
    "gaussian_noise": ("sigma {:g}/255", (8.0, 16.0, 32.0)),
    "jpeg": ("quality {:g}", (30.0, 15.0, 5.0)),
    "dark": ("values x{:g}, noise " + f"{DARK_NOISE:g}/255", (0.4, 0.2, 0.1)),
    "overexposed": ("values x{:g}", (1.6, 2.2, 3.0)),
    "low_contrast": ("contrast x{:g}", (0.5, 0.3, 0.15)),
    "low_resolution": ("1/{:g} the size", (2.0, 4.0, 8.0)),
}


def _clip(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)


def _gaussian_blur(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT_101)


def _motion_blur(image: np.ndarray, length: float, rng: np.random.Generator) -> np.ndarray:
    kernel = motion_kernel(int(length) | 1, float(rng.uniform(0.0, 180.0)))
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)


def _gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return _clip(_noise(image, sigma, rng))


def _jpeg(image: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    return jpeg_round_trip(image, int(quality))


def _dark(image: np.ndarray, exposure: float, rng: np.random.Generator) -> np.ndarray:
    return _clip(_noise(image.astype(np.float32) * exposure, DARK_NOISE, rng))


def _overexposed(image: np.ndarray, exposure: float, rng: np.random.Generator) -> np.ndarray:
    return _clip(image.astype(np.float32) * exposure)


def _low_contrast(image: np.ndarray, contrast: float, rng: np.random.Generator) -> np.ndarray:
    mean = image.reshape(-1, image.shape[-1] if image.ndim == 3 else 1).mean(axis=0)  # per channel
    return _clip(mean + (image.astype(np.float32) - mean) * contrast)


def _low_resolution(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).reshape(image.shape)


CORRUPTIONS: dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]] = {
    "gaussian_blur": _gaussian_blur,
    "motion_blur": _motion_blur,
    "gaussian_noise": _gaussian_noise,
    "jpeg": _jpeg,
    "dark": _dark,
    "overexposed": _overexposed,
    "low_contrast": _low_contrast,
    "low_resolution": _low_resolution,
}


def corrupt(image: np.ndarray, name: str, severity: int, rng: np.random.Generator) -> np.ndarray:
    """``image`` (H, W, 3) uint8 with corruption ``name`` at ``severity`` (0: an unchanged copy, 1-3)."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; known: {sorted(CORRUPTIONS)}")
    if not 0 <= severity <= len(SEVERITIES[name][1]):
        raise ValueError(f"severity of {name} must be 0..{len(SEVERITIES[name][1])}, got {severity}")
    if image.dtype != np.uint8:
        raise ValueError(f"corruptions take uint8 images, got {image.dtype}")
    if severity == 0:
        return image.copy()
    return CORRUPTIONS[name](image, SEVERITIES[name][1][severity - 1], rng)


def rotate_hand(image: np.ndarray, keypoints: np.ndarray, centre: np.ndarray | tuple[float, float],
                angle_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``image`` (H, W, 3) and its ``keypoints`` (21, 3: x, y, v) turned ``angle_deg`` counter-clockwise (as seen) about
    ``centre`` (x, y), on a canvas grown to hold the whole turned image (grey past the original's edge).

    Returns the turned image, its keypoints (visibility unchanged) and the (2, 3) matrix from original to new pixels
    (pixel centres at integer coordinates, as ``Sample.keypoints``)."""
    h, w = image.shape[:2]
    M = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(angle_deg), 1.0)  # (2, 3)
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], np.float64) @ M.T  # (4, 2)
    lo, hi = np.floor(corners.min(axis=0) + 1e-6), np.ceil(corners.max(axis=0) - 1e-6)
    M[:, 2] -= lo
    size = (int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1)
    border = (PAD_VALUE,) * (image.shape[2] if image.ndim == 3 else 1)
    turned = cv2.warpAffine(image, M, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=border)
    kp = np.asarray(keypoints, np.float64).copy()
    kp[:, :2] = kp[:, :2] @ M[:, :2].T + M[:, 2]
    return turned, kp.astype(np.float32), M


def turn_quarters(image: np.ndarray, boxes: np.ndarray, quarters: int) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (H, W, 3) and its xywh ``boxes`` (N, 4) turned ``quarters`` x 90 degrees counter-clockwise as seen (as
    :func:`rotate_hand`'s angles), the whole image, nothing cut and no border added (W x H after an odd number).

    Boxes are in pixel-edge coordinates, as COCO's ``bbox`` (the whole image is (0, 0, W, H)); a quarter turn takes
    the point (x, y) to (y, W - x). Returns the turned image (contiguous) and boxes (N, 4) float64."""
    if int(quarters) != quarters:
        raise ValueError(f"turn_quarters turns by whole quarters, got {quarters}")
    b = np.asarray(boxes, np.float64).reshape(-1, 4)  # (N, 4)
    h, w = image.shape[:2]
    for _ in range(int(quarters) % 4):
        x, y, bw, bh = b.T
        b = np.stack([y, w - x - bw, bh, bw], axis=1)  # the box's top edge becomes its left, its left its bottom
        h, w = w, h
    return np.ascontiguousarray(np.rot90(image, int(quarters) % 4)), b
