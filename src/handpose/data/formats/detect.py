"""Which format a dataset path holds: from folder and file names first, else from the keys of one json.

A dataset-level json (COCO, panopticdb) parsed here to read its keys can be handed to the reader in the
returned :class:`ParsedJson`, so a file of hundreds of megabytes is parsed once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from handpose.data.formats import (
    coco,
    coco_wholebody,
    freihand,
    hand_labels,
    hand_labels_synth,
    interhand,
    panopticdb,
)
from handpose.data.formats.checks import BadAnnotationError
from handpose.data.formats.freihand_files import looks_like as looks_like_freihand
from handpose.data.formats.interhand_files import looks_like as looks_like_interhand
from handpose.data.formats.json_io import ParsedJson, load_json

EXPECTED: dict[str, str] = {
    hand_labels_synth.NAME: hand_labels_synth.EXPECTED,
    hand_labels.NAME: hand_labels.EXPECTED,
    panopticdb.NAME: panopticdb.EXPECTED,
    coco.NAME: coco.EXPECTED,
    coco_wholebody.NAME: coco_wholebody.EXPECTED,
    interhand.NAME: interhand.EXPECTED,
    freihand.NAME: freihand.EXPECTED,
}
_DATASET_FILES = (coco.NAME, coco_wholebody.NAME, panopticdb.NAME)  # formats held in one dataset-level json


def kind_of(obj: Any) -> str | None:
    """The format a parsed json belongs to, from its top-level keys, else None."""
    if not isinstance(obj, dict):
        return None
    if "images" in obj and "annotations" in obj:
        anns = obj["annotations"]
        first = next((a for a in anns if isinstance(a, dict)), None) if isinstance(anns, list) else None
        return coco_wholebody.NAME if coco_wholebody.is_wholebody_annotation(first) else coco.NAME
    if "root" in obj:
        return panopticdb.NAME
    if "hand_pts" in obj:
        return hand_labels.NAME if "head_size" in obj else hand_labels_synth.NAME
    return None


def _peek(json_path: Path) -> tuple[str | None, ParsedJson | None]:
    """(format, the parse when it is a dataset-level json) of one json file."""
    try:
        obj = load_json(json_path)
    except BadAnnotationError:
        return None, None
    kind = kind_of(obj)
    return kind, ParsedJson.of(json_path, obj) if kind in _DATASET_FILES else None


def _unreadable(json_path: Path) -> str | None:
    """Why a json file cannot be read or parsed (None when it parses)."""
    try:
        load_json(json_path)
    except BadAnnotationError as bad:
        return f"{bad.reason}: {bad.detail}" if bad.detail else bad.reason
    return None


PEEK_AT_MOST = 8  # jsons parsed to tell a folder's format (a COCO folder's instances json is hundreds of MB)


def _candidate_jsons(folders: list[Path]) -> list[Path]:
    """The jsons of ``folders`` in the order their format is looked for: hand-specific names first (COCO-WholeBody
    beside COCO's person_keypoints, say), then by name, so the answer does not depend on the file system's listing
    order; at most ``PEEK_AT_MOST``."""
    found: list[Path] = []
    for folder in folders:
        with os.scandir(folder) as it:
            found += sorted(Path(e.path) for e in it if e.name.endswith(".json") and e.is_file())

    def rank(p: Path) -> tuple[int, str]:
        name = p.name.lower()
        return (0 if "wholebody" in name else 1 if "hand" in name else 2 if "keypoint" in name else 3, name)

    return sorted(found, key=rank)[:PEEK_AT_MOST]


def require_dataset_path(path: str | Path) -> Path:
    """``path`` as a Path; FileNotFoundError naming it when nothing is there."""
    path = Path(path)
    if not path.exists():
        from handpose.synth.output_folder import unfinished_renders

        if path.parent.is_dir() and path.parent in unfinished_renders(path.parent):
            raise FileNotFoundError(f"dataset path does not exist: {path}; the handpose synth render into "
                                    f"{path.parent} was stopped before it wrote its labels (its manifest says so): "
                                    "run the same synth command again to finish it")
        raise FileNotFoundError(f"dataset path does not exist: {path}")
    return path


def detect(path: Path) -> tuple[str, ParsedJson | None]:
    """(format, the json parsed on the way or None) of the dataset at ``path``. Raises FileNotFoundError (no such
    path) or ValueError (nothing recognisable)."""
    require_dataset_path(path)
    if path.is_file():
        if panopticdb.looks_like(path):
            return panopticdb.NAME, None
        if looks_like_interhand(path):
            return interhand.NAME, None
        if looks_like_freihand(path):
            return freihand.NAME, None
        kind, parsed = _peek(path) if path.suffix.lower() == ".json" else (None, None)
        if kind in _DATASET_FILES:
            return kind, parsed
        unreadable = _unreadable(path) if path.suffix.lower() == ".json" else None
        if unreadable:
            raise ValueError(f"{path}: not readable as JSON ({unreadable})")
        raise ValueError(f"{path}: not a dataset file; expected a COCO keypoint or COCO-WholeBody json, "
                         f"an InterHand2.6M_*_data.json, a FreiHAND training_xyz.json / evaluation_xyz.json, "
                         f"or {panopticdb.EXPECTED}")
    if hand_labels.looks_like(path):
        return hand_labels.NAME, None
    if hand_labels_synth.looks_like(path):
        return hand_labels_synth.NAME, None
    if panopticdb.looks_like(path):
        return panopticdb.NAME, None
    if looks_like_interhand(path):
        return interhand.NAME, None
    if looks_like_freihand(path):
        return freihand.NAME, None
    folders = [path] + ([path / "annotations"] if (path / "annotations").is_dir() else [])
    for j in _candidate_jsons(folders):
        kind, parsed = _peek(j)
        if kind is not None:
            return kind, parsed
    raise ValueError(
        f"{path}: cannot tell the dataset format; expected one of: "
        + "; ".join(f"{k}: {v}" for k, v in EXPECTED.items())
        + " (or pass --format)"
    )


def detect_format(path: Path | str) -> str:
    """The format of the dataset at ``path`` (one of ``FORMATS``), from folder and file names, else from the
    keys of one json. Raises FileNotFoundError (no such path) or ValueError (nothing recognisable)."""
    return detect(Path(path))[0]
