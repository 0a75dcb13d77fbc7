"""Run a block of PyTorch code under one precision: fp32 (TF32 off on CUDA), tf32, bf16 or fp16 autocast.

TF32 is a process-wide switch (``torch.backends.cudnn.allow_tf32``, ``torch.backends.cuda.matmul.allow_tf32``), and
blocks may overlap (several threads predicting at once) or nest (a tf32 block around a prediction, whose backend
runs fp32): the first block to set it keeps the flags it found, a block leaving while others run gives the switch to
the latest of them still running (the enclosing block, or another thread's), and the last to leave puts the flags
found back. Each block restoring the flags it found itself left TF32 off for good after two overlapping fp32 blocks
(the second found the first's "off"); the last alone restoring them left an outer tf32 block in fp32 after an inner
fp32 block. Blocks of different precisions running at once in two threads share the one switch: the latest entered
sets it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")

_TF32_LOCK = threading.Lock()
_tf32_active: list[tuple[object, bool]] = []  # (token, TF32 on) of each block inside _tf32 now, in entry order
_tf32_found: tuple[bool, bool] = (True, False)  # the flags the first of them found (cudnn, matmul)


@contextlib.contextmanager
def precision(name: str, device_type: str) -> Iterator[None]:
    """Autocast for ``bf16`` / ``fp16``; on CUDA, TF32 tensor cores on for ``tf32`` and off for ``fp32`` (the
    setting of an enclosing or overlapping block still running comes back as a block leaves, the flags found before
    the first when the last leaves: see the module). ValueError for another name."""
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    with contextlib.ExitStack() as stack:
        if device_type == "cuda" and name in ("fp32", "tf32"):
            stack.enter_context(_tf32(name == "tf32"))
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(name)
        stack.enter_context(torch.autocast(device_type, dtype=dtype or torch.bfloat16, enabled=dtype is not None))
        yield


@contextlib.contextmanager
def _tf32(on: bool) -> Iterator[None]:
    """TF32 ``on`` or off for the block; as it leaves, the switch of the latest block still inside, or, where none
    is, the flags found by the first of them."""
    global _tf32_found
    token = object()
    with _TF32_LOCK:
        if not _tf32_active:
            _tf32_found = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        _tf32_active.append((token, on))
        _set_tf32(on, on)
    try:
        yield
    finally:
        with _TF32_LOCK:
            _tf32_active[:] = [entry for entry in _tf32_active if entry[0] is not token]
            _set_tf32(*((_tf32_active[-1][1],) * 2 if _tf32_active else _tf32_found))


def _set_tf32(cudnn: bool, matmul: bool) -> None:
    """The two process-wide TF32 switches."""
    torch.backends.cudnn.allow_tf32 = cudnn
    torch.backends.cuda.matmul.allow_tf32 = matmul
