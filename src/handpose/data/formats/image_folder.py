"""Which folder a dataset json's image names are relative to: the candidate holding the most of a spread-out
sample of its names (not only the first few, which may be the missing ones)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

PROBE_NAMES = 40  # names looked up per candidate folder: the first 8, the rest spread over the list


def probe_names(file_names: Sequence[str]) -> list[str]:
    """Up to ``PROBE_NAMES`` of ``file_names``: the first few, then evenly spread to the last."""
    head = list(file_names[:8])
    rest = file_names[8:]
    spread = PROBE_NAMES - len(head)
    if len(rest) > spread:
        step = len(rest) / spread
        rest = [rest[int(i * step)] for i in range(spread)]
    return head + list(rest)


def best_folder(candidates: Iterable[Path], file_names: Sequence[str]) -> Path | None:
    """The existing candidate holding the most of the probed names (the earlier one on a tie), or None when none
    holds any."""
    names = probe_names(file_names)
    best, best_hits = None, 0
    for base in candidates:
        if not base.is_dir():
            continue
        hits = sum((base / name).is_file() for name in names)
        if hits > best_hits:
            best, best_hits = base, hits
            if hits == len(names):
                break
    return best
