"""Safetensors files whose bytes depend on their contents only.

The safetensors library writes the ``__metadata__`` map of a file's header in its Rust hash map's order, which
changes from process to process: two runs that trained bit-identical weights wrote ``model.safetensors`` files that
differed in their header. :func:`stable_bytes` rewrites the header with the metadata's keys sorted (the tensors'
entries, and the data after the header, are left as they are), padded with spaces to 8 bytes as the library pads it.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping

import torch

METADATA_KEY = "__metadata__"
ALIGNMENT = 8  # the header's length is a multiple of this (the library pads with spaces)


def stable_bytes(data: bytes) -> bytes:
    """``data`` (a whole safetensors file) with its header's metadata keys in sorted order."""
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    if isinstance(header.get(METADATA_KEY), dict):
        header[METADATA_KEY] = dict(sorted(header[METADATA_KEY].items()))
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % ALIGNMENT)
    return struct.pack("<Q", len(text)) + text + data[8 + size:]


def save_stable(tensors: Mapping[str, torch.Tensor], path: str, metadata: dict[str, str]) -> None:
    """``safetensors.torch.save_file`` of ``tensors`` and ``metadata`` to ``path``, the same bytes in every process."""
    from safetensors.torch import save

    with open(path, "wb") as f:
        f.write(stable_bytes(save(dict(tensors), metadata=metadata)))
