"""``hand_labels``: ``manual_train/`` (training) and ``manual_test/`` (validation), one jpg + json per hand with
``hand_pts``, ``is_left`` and ``head_size`` (the PCKh normaliser); other keys (``hand_box_center``,
``mpii_body_pts``, ...) are ignored."""

from __future__ import annotations

from pathlib import Path

from handpose.data.formats.base import ReadContext, Tagged
from handpose.data.formats.hand_files import read_hand_folders

NAME = "hand_labels"
EXPECTED = ("manual_train/ and/or manual_test/ folders of <name>.jpg + <name>.json files with "
            "'hand_pts' (21 x [x, y, v]), 'is_left' and 'head_size'")
MANUAL_DIRS = {"manual_train": "train", "manual_test": "val"}  # folder -> split tag


def looks_like(path: Path) -> bool:
    """A manual_* folder, or a folder holding one."""
    return path.name in MANUAL_DIRS or any((path / d).is_dir() for d in MANUAL_DIRS)


def _folders(path: Path) -> list[tuple[Path, str | None]]:
    if path.name in MANUAL_DIRS:
        return [(path, MANUAL_DIRS[path.name])]
    subs = [(path / d, tag) for d, tag in MANUAL_DIRS.items() if (path / d).is_dir()]
    return subs or [(path, None)]


def read(path: Path, ctx: ReadContext) -> Tagged:
    """manual_train (train) and manual_test (val) under ``path`` (or ``path`` itself), head sizes kept."""
    return read_hand_folders(_folders(path), True, ctx)
