"""Run a block of PyTorch code under one precision: fp32 (TF32 off on CUDA), tf32, bf16 or fp16 autocast.

TF32 is a process-wide switch (``torch.backends.cudnn.allow_tf32``, ``torch.backends.cuda.matmul.allow_tf32``), and
blocks may overlap (several threads predicting at once) or nest (a tf32 block around a prediction, whose backend
runs fp32): the first block to set it keeps the flags it found, a block leaving while others run gives the switch to
the latest of them still running (the enclosing block, or another thread's), and the last to leave puts the flags
found back. Each block restoring the flags it found itself left TF32 off for good after two overlapping fp32 blocks
(the second found the first's "off"); the last alone restoring them left an outer tf32 block in fp32 after an inner
fp32 block. Blocks of different precisions running at once in two threads share the one switch: the latest entered
sets it.

PyTorch has two ways to set TF32 (since 2.9): the ``allow_tf32`` flags and the ``fp32_precision`` strings
(``torch.backends.cuda.matmul``, ``torch.backends.cudnn.conv`` and ``.rnn``), and once a caller has set one switch
through the strings, reading its flag raises ("mix of the legacy and new APIs"). So each switch is set the way the
caller left it: through its flag where that reads, else through its strings (every prediction on CUDA raised in its
fp32 block after ``torch.backends.cuda.matmul.fp32_precision = "tf32"``, PyTorch's own advice).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import torch

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")

_TF32_LOCK = threading.Lock()
_tf32_active: list[tuple[object, bool]] = []  # (token, TF32 on) of each block inside _tf32 now, in entry order
# per switch (cudnn, matmul), what the first of them found: its allow_tf32 flag, or its fp32_precision strings where
# the caller set those (the flag then cannot be read)
_tf32_found: tuple[bool | tuple[str, ...], ...] = (True, False)


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
            _tf32_found = tuple(_read_switch(name) for name in _SWITCHES)
        _tf32_active.append((token, on))
        _set_tf32(on)
    try:
        yield
    finally:
        with _TF32_LOCK:
            _tf32_active[:] = [entry for entry in _tf32_active if entry[0] is not token]
            if _tf32_active:
                _set_tf32(_tf32_active[-1][1])
            else:
                for name, found in zip(_SWITCHES, _tf32_found):
                    _write_switch(name, found)


_SWITCHES = ("cudnn", "matmul")  # the two process-wide TF32 switches


def _switch_ops(name: str) -> tuple[Any, ...]:
    """The ``fp32_precision`` holders of switch ``name`` (PyTorch's strings: cuDNN's convolutions and RNNs, or
    cuBLAS's matmuls)."""
    if name == "cudnn":
        return torch.backends.cudnn.conv, torch.backends.cudnn.rnn
    return (torch.backends.cuda.matmul,)


def _switch_flag_holder(name: str) -> Any:
    """The module whose ``allow_tf32`` flag is switch ``name``."""
    return torch.backends.cudnn if name == "cudnn" else torch.backends.cuda.matmul


def _read_switch(name: str) -> bool | tuple[str, ...]:
    """Switch ``name`` as the caller left it: its ``allow_tf32`` flag, or, where the caller set its ``fp32_precision``
    strings (PyTorch then refuses to read the flag), those strings."""
    try:
        return bool(_switch_flag_holder(name).allow_tf32)
    except RuntimeError:  # "mix of the legacy and new APIs"
        return tuple(str(op.fp32_precision) for op in _switch_ops(name))


def _write_switch(name: str, value: bool | tuple[str, ...]) -> None:
    """Set switch ``name`` to a flag or to strings (:func:`_read_switch`)."""
    if isinstance(value, bool):
        _switch_flag_holder(name).allow_tf32 = value
        return
    for op, precision_name in zip(_switch_ops(name), value):
        op.fp32_precision = precision_name


def _set_tf32(on: bool) -> None:
    """Both switches on or off, each the way the first block found it set (its flag, or its strings)."""
    for name, found in zip(_SWITCHES, _tf32_found):
        _write_switch(name, on if isinstance(found, bool) else ("tf32" if on else "ieee",) * len(found))
