"""One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) against keypoint jitter in video.

A low-pass filter whose cut-off frequency rises with the signal's speed: a still hand is smoothed hard (jitter
gone), a moving one lightly (little lag). ``min_cutoff`` (Hz) sets the smoothing at rest (lower: smoother),
``beta`` how fast the cut-off rises with speed (higher: less lag; speed in pixels per second), ``d_cutoff`` (Hz)
smooths the speed estimate itself. Works element-wise on arrays of any shape, e.g. keypoints (21, 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SmoothingConfig:
    """The One-Euro parameters (``enabled=False`` passes keypoints through)."""

    enabled: bool = True
    min_cutoff: float = 1.0
    beta: float = 0.05
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        if not (self.min_cutoff > 0 and self.d_cutoff > 0 and self.beta >= 0):
            raise ValueError(f"smoothing needs min_cutoff > 0, d_cutoff > 0 and beta >= 0, got {self}")


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """The exponential smoothing factor of a first-order low-pass at ``cutoff`` Hz over ``dt`` seconds."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters a stream of equally shaped arrays given with their times in seconds."""

    def __init__(self, config: SmoothingConfig = SmoothingConfig()) -> None:
        self.config = config
        self.x: np.ndarray | None = None  # last filtered value
        self.dx: np.ndarray | None = None  # last filtered speed (units per second)
        self.t: float | None = None

    def __call__(self, value: np.ndarray, t: float) -> np.ndarray:
        """The filtered ``value`` (same shape, float64) at time ``t`` (seconds, increasing)."""
        v = np.asarray(value, dtype=np.float64)
        if not self.config.enabled:
            return v
        if self.x is None or self.t is None or self.x.shape != v.shape or t <= self.t:
            self.x, self.dx, self.t = v.copy(), np.zeros_like(v), float(t)
            return v.copy()
        c = self.config
        dt = float(t) - self.t
        speed = (v - self.x) / dt
        self.dx = self.dx + _alpha(c.d_cutoff, dt) * (speed - self.dx)
        cutoff = c.min_cutoff + c.beta * np.abs(self.dx)
        self.x = self.x + _alpha(cutoff, dt) * (v - self.x)
        self.t = float(t)
        return self.x.copy()
