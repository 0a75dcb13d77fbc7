"""A folder that holds several datasets (in any formats handpose reads, up to two folders down, symlinks followed):
found one by one, and read as one dataset whose training and validation samples are those of them all.

``handpose eval --data FOLDER`` evaluates such a folder set by set (``evaluate_sets``); ``handpose train --data
FOLDER`` trains on all of its datasets together, e.g. a folder with links to CMU's ``hand_labels``, a COCO file of
one's own hands and ``handpose synth`` renders. Each dataset keeps its own split (its test part, or the hash split).
"""

from __future__ import annotations

from pathlib import Path

from handpose.data.formats.load import Splits, load_splits
from handpose.data.skip_report import SkipReport

SEVERAL = "several"  # the format name of a folder of datasets (each is read in its own)


def find_datasets(root: str | Path, depth: int = 2) -> list[Path]:
    """The datasets handpose can read at ``root`` or in its sub-folders (``depth`` levels), in name order."""
    from handpose.data.formats import detect_format

    root = Path(root)
    try:
        detect_format(root)
        return [root]
    except ValueError:
        pass
    if depth == 0 or not root.is_dir():
        return []
    found: list[Path] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found += find_datasets(child, depth - 1)
    return found


def is_several(path: str | Path) -> bool:
    """Whether ``path`` is a folder of datasets rather than one dataset (False for a path that is no folder)."""
    if not Path(path).is_dir():
        return False
    found = find_datasets(path)
    return bool(found) and found != [Path(path)]


def load_several(path: str | Path, val_fraction: float = 0.1, keypoint_order: str | None = None,
                 by_image: bool = True) -> Splits:
    """Every dataset under the folder ``path``, read with its own format and split, as one :class:`Splits` (format
    ``"several"``; ``by_image`` as :func:`load_splits`). ValueError when the folder holds no dataset or one of them
    holds no usable sample."""
    found = find_datasets(path)
    if not found:
        raise ValueError(f"{path}: no dataset handpose can read in it or in its sub-folders")
    train, val, hash_val, hashed, skipped = [], [], [], False, SkipReport()
    for one in found:
        splits = load_splits(one, None, val_fraction, keypoint_order=keypoint_order,
                             by_image=by_image)  # logs its own counts
        train += splits.train
        val += splits.val
        hash_val += splits.hash_val
        hashed = hashed or splits.hashed
        skipped.merge(splits.skipped)
    return Splits(train, val, SEVERAL, Path(path), skipped, hashed, hash_val)
