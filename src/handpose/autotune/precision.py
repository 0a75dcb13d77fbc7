"""Run a block of PyTorch code under one precision: fp32 (TF32 off on CUDA), tf32, bf16 or fp16 autocast."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")


@contextlib.contextmanager
def precision(name: str, device_type: str) -> Iterator[None]:
    """Autocast for ``bf16`` / ``fp16``; on CUDA, TF32 tensor cores on for ``tf32`` and off for ``fp32`` (the
    previous TF32 flags come back on exit). ValueError for another name."""
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    with contextlib.ExitStack() as stack:
        if device_type == "cuda" and name in ("fp32", "tf32"):
            old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = name == "tf32"
            stack.callback(_restore_tf32, *old)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(name)
        stack.enter_context(torch.autocast(device_type, dtype=dtype or torch.bfloat16, enabled=dtype is not None))
        yield


def _restore_tf32(cudnn: bool, matmul: bool) -> None:
    torch.backends.cudnn.allow_tf32 = cudnn
    torch.backends.cuda.matmul.allow_tf32 = matmul
