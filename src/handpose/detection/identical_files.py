"""Which image files are one picture: a path, or files of identical bytes (MMPose's CMU Panoptic json gives each hand
of a frame its own copy of the frame, ``*_l.jpg`` and ``*_r.jpg``). A dataset of distinct pictures costs one
``stat`` a file and, for files whose byte size another file shares (about half of a large photo set), one read of
their first ``HEAD`` bytes; only files equal in size and head are read whole and hashed."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path

HEAD = 8192  # bytes compared before a whole file is: distinct JPEGs differ within their first few kB
CHUNK = 1 << 20


def picture_keys(paths: Sequence[Path]) -> list[str]:
    """One key per path, equal for the same path and for files of identical bytes; a file that cannot be read is
    keyed by its path alone."""
    unique = list(dict.fromkeys(paths))
    size = {p: _or_none(lambda p=p: p.stat().st_size) for p in unique}
    head = _refine(unique, size, lambda p: _sha1(p, HEAD))
    whole = _refine(unique, head, lambda p: _sha1(p, None))
    return [f"sha1:{whole[p][-1]}" if whole[p] is not None else f"path:{p}" for p in paths]


def _refine(paths: list[Path], keys: dict[Path, Hashable | None], step: Callable[[Path], str]
            ) -> dict[Path, tuple | None]:
    """Each path's key extended by ``step`` where another path shares its key (None: alone, or unreadable)."""
    shared = Counter(k for k in keys.values() if k is not None)
    out: dict[Path, tuple | None] = {}
    for p in paths:
        k = keys[p]
        extra = _or_none(lambda p=p: step(p)) if k is not None and shared[k] > 1 else None
        out[p] = None if extra is None else (k, extra)
    return out


def _or_none(read: Callable[[], Hashable]) -> Hashable | None:
    try:
        return read()
    except OSError:
        return None


def _sha1(path: Path, limit: int | None) -> str:
    """SHA-1 of the file's first ``limit`` bytes (None: all of it)."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        if limit is not None:
            h.update(f.read(limit))
            return h.hexdigest()
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()
