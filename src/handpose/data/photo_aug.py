"""Training crops taken by a poor camera: harsh exposure, gamma, contrast, sensor noise, blur and JPEG.

The renders' own camera effects (``synth.scene.camera_effects``) stay mild (noise sigma under 8/255, gain 0.7-1.25,
blur sigma up to 1.4 px, motion up to 8 px), and the shipped keypoint model loses 0.04-0.13 PCK@0.2 on noisy, dark,
over-exposed, blurred and heavily compressed photos at the middle severities (``benchmarks/bench_corruptions.py``). With
``AugmentConfig.photo_aug_prob`` a share of training crops (or of the detector's letterboxed whole images,
``detection.dataset``) gets, after colour jitter, one random draw of :func:`poor_camera`, whose ranges are fixed
(``RANGES``), not tuned:

1. blur: Gaussian of sigma 0-2.5 px or a straight motion streak of 3-13 px (either, even odds);
2. exposure: the values times a gain drawn uniformly in log space in 0.25-2.0;
3. sensor noise: Gaussian of sigma 0-8/255 at gain 1 or more, its ceiling rising to 20/255 at gain 0.25, as a
   sensor's amplification raises the noise of a dark picture;
4. gamma 0.6-1.6 and contrast 0.4-1.0 about the crop's mean;
5. half the time, a JPEG re-encode of quality 15-60.

Only pixels change: the keypoints, the crop's matrix and the targets stay as they were. Every number is drawn from
the item's own random generator, a fixed count of them per call, so an item is reproducible from its seed.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# the fixed ranges of one draw
RANGES: dict[str, tuple[float, float]] = {
    "gain": (0.25, 2.0),  # drawn uniformly in log space
    "gamma": (0.6, 1.6),
    "contrast": (0.4, 1.0),
    "noise_bright": (0.0, 8.0),  # sigma of 255 at gain >= 1
    "noise_dark": (0.0, 20.0),  # sigma of 255 at the lowest gain
    "blur_sigma": (0.0, 2.5),  # px
    "motion_px": (3, 13),  # streak length in px, odd
    "jpeg_quality": (15, 60),
}
JPEG_PROB = 0.5


def motion_kernel(length: int, angle_deg: float) -> np.ndarray:
    """(length, length) float32 kernel summing to 1: a line of ``length`` (odd) px through its centre at
    ``angle_deg``."""
    if length < 1 or length % 2 == 0:
        raise ValueError(f"motion_kernel: length must be a positive odd number of pixels, got {length}")
    kernel = np.zeros((length, length), np.float32)
    c = r = (length - 1) / 2
    dx, dy = r * math.cos(math.radians(angle_deg)), -r * math.sin(math.radians(angle_deg))
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
    return kernel / kernel.sum()


def noise_ceiling(gain: float) -> float:
    """Largest noise sigma (of 255) drawn at ``gain``: ``noise_bright``'s at gain 1 or more, rising linearly in
    log gain to ``noise_dark``'s at the lowest gain."""
    lo = RANGES["gain"][0]
    dark = min(1.0, max(0.0, math.log(gain) / math.log(lo)))  # 0 at gain >= 1, 1 at the lowest gain
    return RANGES["noise_bright"][1] + dark * (RANGES["noise_dark"][1] - RANGES["noise_bright"][1])


def poor_camera(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` (H, W, 3) BGR uint8 as a poor camera would have taken it: a new (H, W, 3) uint8 image."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"poor_camera takes an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    # every draw made up front, the same count whatever is chosen
    motion = bool(rng.random() < 0.5)
    blur_sigma = float(rng.uniform(*RANGES["blur_sigma"]))
    motion_px = int(rng.integers(RANGES["motion_px"][0] // 2, RANGES["motion_px"][1] // 2 + 1)) * 2 + 1
    motion_deg = float(rng.uniform(0.0, 180.0))
    gain = float(math.exp(rng.uniform(math.log(RANGES["gain"][0]), math.log(RANGES["gain"][1]))))
    sigma = float(rng.uniform(0.0, 1.0)) * noise_ceiling(gain)
    gamma = float(rng.uniform(*RANGES["gamma"]))
    contrast = float(rng.uniform(*RANGES["contrast"]))
    jpeg = bool(rng.random() < JPEG_PROB)
    quality = int(rng.integers(RANGES["jpeg_quality"][0], RANGES["jpeg_quality"][1] + 1))
    noise_seed = int(rng.integers(0, 2**31))

    if motion:
        img = cv2.filter2D(image, -1, motion_kernel(motion_px, motion_deg), borderType=cv2.BORDER_REFLECT_101)
    elif blur_sigma >= 0.1:
        img = cv2.GaussianBlur(image, (0, 0), sigmaX=blur_sigma, borderType=cv2.BORDER_REFLECT_101)
    else:
        img = image
    x = img.astype(np.float32) * gain  # (H, W, 3) float32 in 0-255 grey levels
    if sigma > 0:
        x += np.random.default_rng(noise_seed).normal(0.0, sigma, x.shape).astype(np.float32)
    x = 255.0 * (np.clip(x, 0.0, 255.0) / 255.0) ** gamma
    mean = x.reshape(-1, 3).mean(axis=0)  # (3,) per channel
    x = mean + (x - mean) * contrast
    out = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return jpeg_round_trip(out, quality) if jpeg else out


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` (H, W, 3) uint8 encoded as JPEG of ``quality`` (1-100) and decoded again: (H, W, 3) uint8."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {image.shape} image as JPEG of quality {quality}")
    return cv2.imdecode(data, cv2.IMREAD_COLOR).reshape(image.shape)
