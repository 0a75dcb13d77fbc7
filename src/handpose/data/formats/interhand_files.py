"""InterHand2.6M's annotation files: which ``InterHand2.6M_{split}_data.json`` to read, the ``_camera.json`` and
``_joint_3d.json`` beside each, and the folder of its images (``images/{split}/`` at the dataset root).

Layout (the dataset's own): ``annotations/{all,human_annot,machine_annot}/InterHand2.6M_{train,val,test}_*.json``
and ``images/{train,val,test}/Capture*/...``. Given the root or ``annotations/``, the ``all`` subset is read (else
``human_annot``, else ``machine_annot``: the subsets overlap, so only one is read); a subset folder or one
``_data.json`` file is read as given.
"""

from __future__ import annotations

import re
from pathlib import Path

from handpose.data.formats.image_folder import best_folder

DATA_JSON = re.compile(r"^InterHand2\.6M_(?P<split>[A-Za-z]+)_data\.json$")
SUBSETS = ("all", "human_annot", "machine_annot")


def looks_like(path: Path) -> bool:
    """An InterHand2.6M data json, or a folder from which :func:`data_jsons` finds one."""
    return bool(data_jsons(path))


def _in_folder(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("InterHand2.6M_*_data.json") if DATA_JSON.match(p.name)) \
        if folder.is_dir() else []


def data_jsons(path: Path) -> list[Path]:
    """The ``_data.json`` files to read at ``path`` (one subset only)."""
    if path.is_file():
        return [path] if DATA_JSON.match(path.name) else []
    for folder in [path] + [top / s for top in (path, path / "annotations") for s in SUBSETS]:
        found = _in_folder(folder)
        if found:
            return found
    return []


def split_of(data_json: Path) -> str:
    """"train", "val" or "test" from the file name."""
    m = DATA_JSON.match(data_json.name)
    return m.group("split") if m else ""


def companion(data_json: Path, kind: str) -> Path:
    """The ``_camera.json`` or ``_joint_3d.json`` (``kind`` = "camera" / "joint_3d") of a data json."""
    return data_json.with_name(data_json.name.replace("_data.json", f"_{kind}.json"))


def image_base(data_json: Path, file_names: list[str]) -> Path:
    """The folder the data json's ``file_name`` values are relative to: ``images/{split}`` at the dataset root
    (two folders above a subset folder), or beside the json, whichever holds the most of them; the json's folder
    when none holds any."""
    split = split_of(data_json)
    jdir = data_json.parent
    candidates = [base for top in (jdir.parent.parent, jdir.parent, jdir)
                  for base in (top / "images" / split, top / split, top / "images", top)]
    return best_folder(candidates, file_names) or jdir
