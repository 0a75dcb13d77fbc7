"""Test helpers: "dot hands" (21 coloured dots, one colour per keypoint), a stub keypoint backend that finds those
dots in a crop, and a stub detector that boxes them.

Stubs, not networks: a freshly initialised CPM puts its keypoints anywhere, so tracking (which moves the next box to
the keypoints) and the crop geometry could not be checked with one. The stub backend receives exactly the network
input (crops after the crop matrix, the left-hand mirror and normalisation) and answers with belief maps from the
one codec, so everything around the network (crop, decode, map back, mirror, boxes, tracks) is the real code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handpose.data.codec import encode
from handpose.detection.detector import Detection

CODES = 20 + 10 * np.arange(21)  # blue value of keypoint k's dot (green 255, red 0)
OFFSETS = np.array([[(k % 5) * 9 - 18, (k // 5) * 10 - 20] for k in range(21)], np.float64)  # (21, 2) px
BACKGROUND = (70, 0, 70)  # BGR; no green, so a pixel that is nearly pure dot green is nearly pure dot


def dot_hand_keypoints(centre: tuple[float, float], spread: float = 1.0) -> np.ndarray:
    """(21, 2) the dot centres of a hand at ``centre``."""
    return np.asarray(centre, np.float64) + spread * OFFSETS


def draw_dot_hands(size_wh: tuple[int, int], hands: list[np.ndarray]) -> np.ndarray:
    """(H, W, 3) BGR: a purple background with each hand's 21 dots (5 x 5 px, at integer pixels)."""
    w, h = size_wh
    img = np.empty((h, w, 3), np.uint8)
    img[:] = BACKGROUND
    for kp in hands:
        for k, (x, y) in enumerate(np.round(kp).astype(int)):
            img[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3] = (CODES[k], 255, 0)
    return img


def find_dots(img_bgr: np.ndarray) -> np.ndarray:
    """(21, 3) ``[x, y, v]``: the centroid of each keypoint's dot colour in an image (v = 0 where absent).

    Only nearly pure dot pixels count (green >= 250: at most 2 % background blended in by resampling, which moves
    blue by at most 4, less than half the 10 between two codes)."""
    b, g = img_bgr[..., 0].astype(np.float64), img_bgr[..., 1].astype(np.float64)
    out = np.zeros((21, 3))
    for k, code in enumerate(CODES):
        ys, xs = np.nonzero((g >= 250) & (np.abs(b - code) < 5))
        if len(xs):
            out[k] = [xs.mean(), ys.mean(), 1.0]
    return out


class DotBackend:
    """A keypoint "network" that finds the dots in each crop and answers with their belief maps (see module)."""

    stages = 1

    def __init__(self, stride: int = 8) -> None:
        self.stride = stride
        self.calls = 0

    def __call__(self, x: np.ndarray, all_stages: bool = False) -> np.ndarray:
        self.calls += 1
        n, _, side, _ = x.shape  # (N, 3, S, S)
        crops = np.clip((x.transpose(0, 2, 3, 1) + 0.5) * 256.0, 0, 255)  # (N, S, S, 3) BGR
        maps = [encode(find_dots(c), side, self.stride)[0] for c in crops]  # N x (22, s, s)
        return np.stack(maps)[None].astype(np.float32)  # (1, N, 22, s, s)


@dataclass
class DotDetector:
    """A stub hand detector: one box per group of dots (groups split by a gap in x), all of side ``is_left``."""

    is_left: bool = False
    calls: int = 0

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        self.calls += 1
        mask = image_bgr[..., 1] > 200  # (H, W)
        cols = np.nonzero(mask.any(axis=0))[0]
        if len(cols) == 0:
            return []
        groups = np.split(cols, np.nonzero(np.diff(cols) > 20)[0] + 1)
        found = []
        for g in groups:
            ys = np.nonzero(mask[:, g[0] : g[-1] + 1].any(axis=1))[0]
            box = np.array([g[0], ys[0], g[-1] - g[0] + 1, ys[-1] - ys[0] + 1], np.float64)
            found.append(Detection(box, 0.9, self.is_left, 0.8 if self.is_left else 0.2))
        return found
