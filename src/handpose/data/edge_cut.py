"""Training hands cut off by the image's edge, as a camera frame cuts a hand that leaves it.

At prediction a hand reaching past the image is cropped around what is left of it, and the crop is grey
(``transforms.PAD_VALUE``) past the image's edge: a hand that ends on a straight grey edge. Rendered training hands
lie whole inside their images, so the network never saw one, and such hands lose about a tenth of their PCK@0.2
(``benchmarks/bench_edge_cut.py``). The augmentation makes them:

1. :func:`draw_cut`: a straight cut across the hand in the original image, parallel to one of its sides, placed so
   that a share of the visible keypoints (``CUT_SHARE``) lies past it; those keypoints become not visible and the
   hand's box becomes the box of the keypoints left, as a detector would box what is in view;
2. the crop is made from that box as any other (random scale, rotation, shift, flip);
3. :func:`grey_past`: the crop's pixels whose original position lies past the cut are set to the grey of the
   border, after colour jitter and blur (the border of a real crop is neither).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handpose.data.transforms import PAD_VALUE, invert_affine, visible_box

CUT_SHARE = (0.2, 0.6)  # share of the visible keypoints a cut takes off
MIN_VISIBLE = 6  # a hand with fewer visible keypoints is not cut
MIN_LEFT = 3  # visible keypoints a cut leaves, at least


@dataclass(frozen=True)
class Cut:
    """An image edge across a hand: original pixels with ``coordinate[axis] < at`` (``keep_above``) or ``>= at``
    (not ``keep_above``) are cut off."""

    axis: int  # 0: x (a left or right edge), 1: y (a top or bottom edge)
    at: float
    keep_above: bool

    def off(self, xy: np.ndarray) -> np.ndarray:
        """(N,) bool: which of the (N, 2) original-pixel points lie past the cut."""
        return self.past(np.asarray(xy, np.float64)[:, self.axis])

    def past(self, values: np.ndarray) -> np.ndarray:
        """Bool of ``values``' shape: which original-pixel coordinates along ``axis`` lie past the cut."""
        return values < self.at if self.keep_above else values >= self.at


def draw_cut(keypoints: np.ndarray, rng: np.random.Generator) -> tuple[Cut, np.ndarray, np.ndarray] | None:
    """A random cut of the hand: (the cut, keypoints (21, 3) with those past it not visible, the ``[x, y, w, h]`` box
    of the visible ones left); None when the hand has too few visible keypoints, or the cut drawn would hide none
    of them or leave too few."""
    kp = np.asarray(keypoints, np.float64)
    visible = (kp[:, 2] > 0) & np.isfinite(kp[:, :2]).all(axis=1)
    if visible.sum() < MIN_VISIBLE:
        return None
    axis = int(rng.integers(2))
    keep_above = bool(rng.integers(2))
    share = float(rng.uniform(*CUT_SHARE))
    values = kp[visible, axis]
    cut = Cut(axis, float(np.quantile(values, share if keep_above else 1.0 - share)), keep_above)
    off = visible & cut.off(kp[:, :2])
    if not off.any() or int(visible.sum() - off.sum()) < MIN_LEFT:  # a cut that hides none, or leaves too few
        return None
    left = kp.copy()
    left[off, 2] = 0.0
    box = visible_box(left)
    return cut, left, box


def grey_past(crop: np.ndarray, M: np.ndarray, cut: Cut) -> np.ndarray:
    """``crop`` (S, S, 3) uint8 with every pixel whose original position (through the inverse of ``M``, (2, 3)
    original px -> crop px) lies past ``cut`` set to the border's grey; a new array."""
    s = crop.shape[0]
    inv = invert_affine(M)  # (2, 3) crop px -> original px
    u, v = np.meshgrid(np.arange(s, dtype=np.float64), np.arange(s, dtype=np.float64))  # (S, S) each
    original = inv[cut.axis, 0] * u + inv[cut.axis, 1] * v + inv[cut.axis, 2]  # (S, S): the cut's coordinate
    out = crop.copy()
    out[cut.past(original)] = PAD_VALUE
    return out
