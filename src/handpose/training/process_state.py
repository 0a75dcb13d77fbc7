"""The process-wide settings a training run sets for itself, given back when it ends.

:func:`~handpose.training.train` seeds Python's, numpy's and torch's global random states (``TrainConfig.seed``),
sets PyTorch's thread count (``threads``: a number, or ``"auto"``, which moves it as the run goes, following a
thread governor of its own: ``autotune.free_cores``) and OpenCV's (one thread while its data loads:
``data.dataset``), and hooks ``threading.excepthook`` (TensorBoard's writer thread's failed writes are reported by
the run instead: ``reporting``). A script or notebook that trains and then goes on
with its own random numbers, models or images finds them as they were before the call, whether the run finished or
raised.
CUDA random states are given back where CUDA was in use before the run. cuDNN's autotuner flag, which a run on a
GPU turns on, is given back by ``training.cudnn_autotuner``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import cv2
import torch

from handpose.autotune.free_cores import kept_governor
from handpose.training.checkpoints import rng_state, set_rng_state


@contextlib.contextmanager
def kept_process_state() -> Iterator[None]:
    """The global random states, the PyTorch and OpenCV thread counts, the process's thread governor and the
    thread exception hook of the block's start, restored as it leaves (also on an exception)."""
    random_states = rng_state()
    torch_threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    excepthook = threading.excepthook
    try:
        with kept_governor():
            yield
    finally:
        threading.excepthook = excepthook
        set_rng_state(random_states)
        if torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)
        if cv2.getNumThreads() != cv2_threads:
            cv2.setNumThreads(cv2_threads)
