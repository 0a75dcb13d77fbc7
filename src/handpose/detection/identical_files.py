"""Which image files are one picture: a path, or files of identical bytes (MMPose's CMU Panoptic json gives each hand
of a frame its own copy of the frame, ``*_l.jpg`` and ``*_r.jpg``). Only files whose byte size another file shares
are read and hashed, so a dataset of distinct pictures costs one ``stat`` a file."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

CHUNK = 1 << 20


def picture_keys(paths: Sequence[Path]) -> list[str]:
    """One key per path, equal for the same path and for files of identical bytes; a file that cannot be read is
    keyed by its path alone."""
    sizes: dict[Path, int | None] = {}
    for p in paths:
        if p not in sizes:
            try:
                sizes[p] = p.stat().st_size
            except OSError:
                sizes[p] = None
    shared = Counter(s for s in sizes.values() if s is not None)
    digests: dict[Path, str] = {}
    for p, size in sizes.items():
        digests[p] = f"path:{p}"
        if size is not None and shared[size] > 1:
            try:
                digests[p] = f"sha1:{_sha1(p)}"
            except OSError:
                pass
    return [digests[p] for p in paths]


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()
