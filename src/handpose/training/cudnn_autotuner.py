"""cuDNN's autotuner (``torch.backends.cudnn.benchmark``) for a training run and its speed trial on a GPU.

With the autotuner on, cuDNN times its convolution algorithms on the first call of each input shape and keeps the
fastest for the later calls of that shape. A training run feeds one input size (the crop size, or the detector's
letterbox) step after step, the case it is made for; off, cuDNN picks by a heuristic. The speed trial
(``autotune.trials``) times its candidates under the same setting the run will have, so that it ranks what the run
will meet.

It stays as the caller left it where the caller asked for repeatable GPU results
(``torch.use_deterministic_algorithms(True)`` or ``torch.backends.cudnn.deterministic``): the algorithm it picks by
timing can differ from run to run, and with it the float roundings. Off the GPU it does nothing. It is a process-wide
flag, so the block that set it gives the caller's value back as it leaves, also on an exception.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def autotuner_wanted(device: torch.device) -> bool:
    """Whether to turn cuDNN's autotuner on for training on ``device``: on CUDA, unless the caller asked for
    deterministic algorithms (see the module)."""
    if device.type != "cuda":
        return False
    return not (torch.are_deterministic_algorithms_enabled() or torch.backends.cudnn.deterministic)


@contextlib.contextmanager
def cudnn_autotuner(device: torch.device) -> Iterator[None]:
    """cuDNN's autotuner on for the block where :func:`autotuner_wanted` says so; the caller's setting back as the
    block leaves."""
    before = torch.backends.cudnn.benchmark
    if autotuner_wanted(device):
        torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before
