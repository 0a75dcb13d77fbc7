"""Run a block of PyTorch code under one precision: fp32 (TF32 off on CUDA), tf32, bf16 or fp16 autocast.

TF32 is a process-wide switch (``torch.backends.cudnn.allow_tf32``, ``torch.backends.cuda.matmul.allow_tf32``), and
blocks may overlap (several threads predicting at once): the first block to set it keeps the flags it found and the
last to leave puts them back. Each block restoring the flags it found itself left TF32 off for good after two
overlapping fp32 blocks (the second found the first's "off").
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")

_TF32_LOCK = threading.Lock()
_tf32_holders = 0  # blocks inside _tf32 now
_tf32_found: tuple[bool, bool] = (True, False)  # the flags the first of them found (cudnn, matmul)


@contextlib.contextmanager
def precision(name: str, device_type: str) -> Iterator[None]:
    """Autocast for ``bf16`` / ``fp16``; on CUDA, TF32 tensor cores on for ``tf32`` and off for ``fp32`` (the
    flags found before the first of overlapping blocks come back when the last leaves). ValueError for another
    name."""
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
    """TF32 ``on`` or off for the block; the flags found by the first of overlapping blocks restored by the last."""
    global _tf32_holders, _tf32_found
    with _TF32_LOCK:
        if _tf32_holders == 0:
            _tf32_found = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        _tf32_holders += 1
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = on
    try:
        yield
    finally:
        with _TF32_LOCK:
            _tf32_holders -= 1
            if _tf32_holders == 0:
                torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = _tf32_found
