"""The One-Euro filter's numbers against Casiez et al.'s equations worked step by step, and its restarts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from handpose.inference.smoothing import OneEuroFilter, SmoothingConfig


def _alpha(cutoff: float, dt: float) -> float:
    """The paper's smoothing factor: 1 / (1 + tau / Te), tau = 1 / (2 pi fc)."""
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff) / dt)


def test_one_step_by_the_papers_equations() -> None:
    """min_cutoff 1 Hz, beta 0.5, d_cutoff 2 Hz; 0 at t = 0, then -10 at t = 0.1 s: speed -100 px/s, filtered with
    the d_cutoff factor 0.5569 to -55.69; cutoff 1 + 0.5 |-55.69| = 28.84 Hz; value -10 times its factor 0.9477."""
    f = OneEuroFilter(SmoothingConfig(min_cutoff=1.0, beta=0.5, d_cutoff=2.0))
    assert f(np.array([0.0]), 0.0).tolist() == [0.0]
    got = float(f(np.array([-10.0]), 0.1)[0])
    dx = _alpha(2.0, 0.1) * -100.0
    want = _alpha(1.0 + 0.5 * abs(dx), 0.1) * -10.0
    assert dx == pytest.approx(-55.686, abs=1e-3)
    assert got == pytest.approx(want, rel=1e-9) and got == pytest.approx(-9.4771, abs=1e-4)


def test_at_rest_it_is_a_low_pass_at_min_cutoff() -> None:
    """beta 0: a step of 10 at 30 fps comes out as 10 alpha(1 Hz, 1/30 s) = 1.73171."""
    f = OneEuroFilter(SmoothingConfig(min_cutoff=1.0, beta=0.0))
    f(np.zeros(2), 0.0)
    np.testing.assert_allclose(f(np.full(2, 10.0), 1 / 30), np.full(2, 1.73171), atol=1e-5)


def test_a_repeated_time_or_a_new_shape_starts_over() -> None:
    """Times must increase: a frame at the same time (or earlier) restarts the filter at that value, as does a value
    of another shape; nothing comes out NaN."""
    f = OneEuroFilter(SmoothingConfig())
    f(np.zeros((21, 2)), 1.0)
    np.testing.assert_array_equal(f(np.full((21, 2), 4.0), 1.0), np.full((21, 2), 4.0))
    np.testing.assert_array_equal(f(np.full((21, 2), 7.0), 0.5), np.full((21, 2), 7.0))
    np.testing.assert_array_equal(f(np.full((3, 2), 9.0), 2.0), np.full((3, 2), 9.0))
    assert np.isfinite(f(np.full((3, 2), 5.0), 2.1)).all()
