"""What a run's numbers depend on besides its settings, for its record (``summary.json``, ``eval_report.json``,
``demo_summary.json``): the versions of handpose and of the libraries that compute, the CPU, the device and the
thread count PyTorch ran with.

With the same settings, seed, speed choices (``--amp``, ``--channels-last``) and these, a training run on one machine
gives the same weights bit for bit; another PyTorch thread count gives other float roundings (on 2 cores, the tiny
preset's weights moved by 4e-5 after 30 steps at 1 thread against 2), so the count ran with is recorded even where
``--threads`` was not given.
"""

from __future__ import annotations

import platform
from typing import Any


def run_environment(device: Any = None) -> dict[str, Any]:
    """Versions (handpose, torch, numpy, OpenCV, Python), the platform, the CPU (model name and the instruction sets
    that decide speed choices), PyTorch's thread count now, and, for a CUDA ``device``, the GPU's name and CUDA's
    version."""
    import cv2
    import numpy
    import torch

    from handpose import __version__
    from handpose.autotune.choice import cpu_identity

    record: dict[str, Any] = {
        "handpose": __version__,
        "torch": str(torch.__version__),  # a str subclass that a weights_only checkpoint load refuses
        "numpy": str(numpy.__version__),
        "opencv": str(cv2.__version__),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_identity(),
        "torch_threads": torch.get_num_threads(),
    }
    if device is not None and torch.device(device).type == "cuda":
        record["gpu"] = torch.cuda.get_device_name(torch.device(device))
        record["cuda"] = str(torch.version.cuda)
    return record


# what, when it changes between a run's start and its resume, makes the resumed run differ from an uninterrupted one
COMPARED = ("torch_threads", "torch", "numpy", "opencv", "cpu", "gpu", "cuda", "handpose")


def environment_changes(saved: dict[str, Any], now: dict[str, Any], ignore: tuple[str, ...] = ()) -> str | None:
    """The parts of :func:`run_environment` that differ between ``saved`` (a checkpoint's) and ``now``, in words, or
    None (also for a checkpoint that recorded none); ``ignore``: keys not compared (``torch_threads`` of a run whose
    thread count follows the free cores, ``--threads auto``)."""
    words = [f"{key} {now.get(key)} instead of {saved[key]}" for key in COMPARED
             if key not in ignore and key in saved and saved[key] != now.get(key)]
    return ", ".join(words) or None


def ignored_on_resume(device_type: str, auto_threads: bool) -> tuple[str, ...]:
    """The keys of :func:`run_environment` that a resume on ``device_type`` does not compare: PyTorch's CPU thread
    count where it follows the free cores (``--threads auto``), and on a GPU the CPU and its thread count, which
    run none of the network's steps there."""
    ignored = ("torch_threads",) if auto_threads else ()
    if device_type == "cuda":
        ignored = ("torch_threads", "cpu")
    return ignored

