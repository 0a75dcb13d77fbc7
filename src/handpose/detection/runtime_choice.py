"""The shipped detector in whichever runtime is faster on this machine, decided by timing both here.

The shipped detector comes as PyTorch weights and as their float32 ONNX export (the same maps to 3e-5). Which
runs faster depends on the CPU and the libraries, so nothing is assumed: :func:`fastest` times each candidate's
``find`` on a hand-like letterboxed input at each of its scales (one warm-up, then ``ROUNDS`` interleaved rounds,
the median kept) and returns the fastest, with the times. It costs a few detector runs, well under a second on
two cores. Where onnxruntime cannot load the file, the PyTorch network is used.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np

from handpose.detection.detector import HandDetector, Letterboxed

LOG = logging.getLogger(__name__)

ROUNDS = 3


def trial_input(detector: HandDetector) -> list[list[Letterboxed]]:
    """One hand-like image letterboxed at each of ``detector``'s scales, as ``HandDetector.find`` takes it."""
    from handpose.detection.onnx_export import sample_images

    image = sample_images(detector.input_size, 1)[0]  # (S, S, 3) uint8
    return [detector.letterbox_scales(image)]


def time_detectors(candidates: Sequence[HandDetector], rounds: int = ROUNDS) -> list[float]:
    """Median seconds of one ``find`` per candidate, measured in interleaved rounds after a warm-up each."""
    inputs = [trial_input(d) for d in candidates]
    for d, x in zip(candidates, inputs):
        d.find(x)  # warm-up: first-call allocations and kernel choices
    times: list[list[float]] = [[] for _ in candidates]
    for _ in range(max(1, rounds)):
        for i, (d, x) in enumerate(zip(candidates, inputs)):
            t0 = time.perf_counter()
            d.find(x)
            times[i].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times]


def fastest(candidates: Sequence[HandDetector], names: Sequence[str]) -> tuple[HandDetector, list[float]]:
    """The fastest of ``candidates`` (named ``names`` in the log line) and each one's median seconds."""
    if not candidates:
        raise ValueError("fastest: no detector to choose from")
    if len(candidates) == 1:
        return candidates[0], [float("nan")]
    seconds = time_detectors(candidates)
    best = int(np.argmin(seconds))
    LOG.info("hand detector runtime measured on this machine: %s; using %s",
             ", ".join(f"{n} {s * 1000:.1f} ms" for n, s in zip(names, seconds)), names[best])
    return candidates[best], seconds
