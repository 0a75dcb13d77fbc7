"""``hand_labels_synth``: ``synth1/ .. synth4/`` (any subset, one of them, or a plain folder) of ``NNNNNNNN.jpg`` +
``NNNNNNNN.json`` with ``hand_pts`` (21 x [x, y, v]) and ``is_left``; no head size, no test split."""

from __future__ import annotations

import re
from pathlib import Path

from handpose.data.formats.base import ReadContext, Tagged
from handpose.data.formats.hand_files import read_hand_folders

NAME = "hand_labels_synth"
EXPECTED = ("synth1/ .. synth4/ folders (or one of them) of NNNNNNNN.jpg + NNNNNNNN.json files "
            "with 'hand_pts' (21 x [x, y, v]) and 'is_left'")
SYNTH_DIR = re.compile(r"^synth\d+$")


def looks_like(path: Path) -> bool:
    """A synthN folder, or a folder holding one."""
    return bool(SYNTH_DIR.match(path.name)) or any(SYNTH_DIR.match(p.name) and p.is_dir() for p in path.iterdir())


def _folders(path: Path) -> list[tuple[Path, str | None]]:
    """The synthN folders under ``path``, else ``path`` itself: a folder named like one (``--out synth2000``) that
    holds synthN folders is read through them."""
    subs = sorted(p for p in path.iterdir() if SYNTH_DIR.match(p.name) and p.is_dir())  # names first: no stat a file
    return [(p, None) for p in subs] or [(path, None)]


def read(path: Path, ctx: ReadContext) -> Tagged:
    """Every synthN folder under ``path`` (or ``path`` itself); head sizes are not kept."""
    return read_hand_folders(_folders(path), False, ctx)
