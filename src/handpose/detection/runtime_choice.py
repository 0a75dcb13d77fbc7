"""The shipped detector in whichever runtime is faster on this machine, decided by timing both here.

The shipped detector comes as PyTorch weights, and their float32 ONNX export (the same maps to 3e-5) is made from them
at first use (``pretrained.detector_onnx``). Which runs faster depends on the CPU and the libraries, so nothing is
assumed: :func:`fastest` times each candidate's ``find`` on a hand-like letterboxed input at each of its scales (one
warm-up, then ``ROUNDS`` interleaved rounds, the median kept) and returns the fastest, with the times. It costs a few
detector runs (0.7 s on two cores at two scales). :func:`cached_fastest` keeps the verdict in the speed-trial cache of
``handpose.autotune`` (``$HANDPOSE_CACHE/autotune.json``), keyed by the CPU, the thread count, the torch and onnxruntime
versions, the detector file and the scales, so a later process on the same machine does not time again (unless other
processes kept the CPUs busy while it timed: ``autotune.contention``). Where onnxruntime cannot load the file, the
PyTorch network is used.

A verdict kept out of the cache file (timed while other processes were busy) is held by the process that timed it
(``autotune.choice.keep_results``, as the precision trials are), so its later detectors (each
``Predictor.from_pretrained()``, each one-line ``handpose.predict``) take it instead of timing again, which on a
busy machine, where the PyTorch detector is at its slowest, cost most of each call. Threads
that ask at once time once (a lock), as trials running side by side in one process slow each other down unseen: the
CPU meter counts only other processes.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from handpose.autotune.choice import TrialKey, cache_path, cached_entry, cpu_identity, keep_results
from handpose.autotune.contention import start_meter, unsteady
from handpose.detection.detector import HandDetector, Letterboxed

LOG = logging.getLogger(__name__)

ROUNDS = 3
_CHOOSING = threading.Lock()  # one trial at a time in a process: the other threads wait for its verdict


def trial_input(detector: HandDetector) -> list[list[Letterboxed]]:
    """One hand-like image letterboxed at each of ``detector``'s scales, as ``HandDetector.find`` takes it."""
    from handpose.export import sample_crops

    image = sample_crops(detector.input_size, 1)[0]  # (S, S, 3) uint8
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


def _seconds(results: Any, name: str) -> float | None:
    """The cached seconds of runtime ``name`` in an entry's ``results`` ({name: {"seconds": s}}); None where they are
    missing or not a finite positive number."""
    verdict = results.get(name) if isinstance(results, dict) else None
    value = verdict.get("seconds") if isinstance(verdict, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def runtime_key(candidate_file: str, scales: Sequence[float]) -> TrialKey:
    """The speed-trial cache's key of this choice (``autotune.choice.TrialKey``): this CPU, torch's threads and
    version, onnxruntime's version, the detector file (name and size) and the scales; "bn folded" marks verdicts
    timed with PyTorch's batch norms folded into their convs (``model/fold_batch_norm``), so a verdict timed on
    the slower unfolded network before is not taken for one."""
    from pathlib import Path

    import onnxruntime
    import torch

    file = Path(candidate_file)
    what = (f"detector runtime: {file.name} {file.stat().st_size} B, onnxruntime {onnxruntime.__version__}, "
            f"scales {','.join(f'{s:g}' for s in scales)}, bn folded")
    return TrialKey("cpu", cpu_identity(), torch.__version__, torch.get_num_threads(), what, 0, 1, "runtime")


def cached_fastest(candidates: Sequence[HandDetector], names: Sequence[str], key: TrialKey) -> HandDetector:
    """:func:`fastest`, its verdict kept in the speed-trial cache under ``key`` and read from there when present;
    a verdict the cache did not take (a busy machine) is kept for this process (module docstring)."""
    with _CHOOSING:
        return _cached_fastest(candidates, names, key)


def _cached_fastest(candidates: Sequence[HandDetector], names: Sequence[str], key: TrialKey) -> HandDetector:
    path = cache_path()
    entry = cached_entry(path, key)  # the cache file's, or one this process timed on a busy machine
    results = entry.get("results") if isinstance(entry, dict) else None
    cached = [_seconds(results, n) for n in names]
    if all(s is not None for s in cached):  # else missing, or unreadable (another layout, a damaged file): timed
        best = int(np.argmin(cached))
        LOG.info("hand detector runtime from the speed-trial cache (measured %s): %s; using %s",
                 entry.get("measured", "?"), ", ".join(f"{n} {s * 1000:.1f} ms" for n, s in zip(names, cached)),
                 names[best])
        return candidates[best]
    t0 = time.perf_counter()
    others = start_meter()
    chosen, seconds = fastest(candidates, names)
    keep_results(path, key, {n: {"seconds": s} for n, s in zip(names, seconds)}, time.perf_counter() - t0,
                 not unsteady(others(), "hand detector runtime", path))
    return chosen
