"""FreiHAND's files: which parts (training, evaluation) a path holds, their two json files and their images.

Layout (the dataset's own, FreiHAND_pub_v2 with the evaluation labels of FreiHAND_pub_v2_eval unpacked beside it):
``{part}_xyz.json`` (N x 21 x 3 joint positions in metres, camera coordinates, CMU order) and ``{part}_K.json``
(N x 3 x 3 intrinsics) at the root, the images in ``{part}/rgb/%08d.jpg`` (224 x 224). ``training`` has N = 32,560
annotations and 130,240 images: each sample in 4 versions (the green-screen original, then 3 with other
backgrounds), image i showing annotation i mod N; ``evaluation`` has 3,960 of each. Other files (``*_mano.json``,
``*_verts.json``, ``*_scale.json``, ``training/mask/``) are not read.

The first download holds ``evaluation_K.json`` without ``evaluation_xyz.json`` (the evaluation labels came later):
such a part is unlabelled and not read, with a note saying so. Given the root, every labelled part is read; given
one of the four json files, its part alone.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from handpose.data.formats.image_folder import probe_names
from handpose.data.image_headers import header_size
from handpose.data.images import IMAGE_SUFFIXES
from handpose.regular_files import open_regular

PARTS = ("training", "evaluation")
TAGS = {"training": "train", "evaluation": "val"}  # part -> split tag
JSON_NAME = re.compile(r"^(?P<part>training|evaluation)_(?P<kind>xyz|K)\.json$")


@dataclass(frozen=True)
class Part:
    """One part of a FreiHAND root: ``training`` or ``evaluation``."""

    name: str
    root: Path

    @property
    def xyz(self) -> Path:
        return self.root / f"{self.name}_xyz.json"

    @property
    def k(self) -> Path:
        return self.root / f"{self.name}_K.json"

    @property
    def rgb(self) -> Path:
        return self.root / self.name / "rgb"

    @property
    def tag(self) -> str:
        return TAGS[self.name]


def looks_like(path: Path) -> bool:
    """One of FreiHAND's four json files, or a folder holding one."""
    if path.is_file():
        return bool(JSON_NAME.match(path.name))
    return path.is_dir() and any((path / f"{p}_{k}.json").is_file() for p in PARTS for k in ("xyz", "K"))


def parts_at(path: Path) -> tuple[list[Part], list[str]]:
    """(the labelled parts to read at ``path``, notes on parts found without labels). A part is labelled when its
    ``_xyz.json`` is there; its ``_K.json`` and ``rgb/`` are checked by the reader."""
    m = JSON_NAME.match(path.name) if path.is_file() else None
    root, names = (path.parent, (m.group("part"),)) if m else (path, PARTS)
    parts, notes = [], []
    for name in names:
        part = Part(name, root)
        if part.xyz.is_file():
            parts.append(part)
        elif part.k.is_file():
            notes.append(f"{part.k.name} without {part.xyz.name}: the {name} images are unlabelled here and not "
                         f"read (FreiHAND_pub_v2_eval.zip holds the evaluation labels)")
    return parts, notes


def image_files(rgb: Path) -> list[tuple[int, str]]:
    """(index, file name) of each ``%08d`` image in ``rgb/`` (plain strings: 130,240 Paths cost more), by index;
    one file per index (the first name in sorted order)."""
    found: dict[int, str] = {}
    with os.scandir(rgb) as it:
        names = sorted(e.name for e in it)
    for name in names:
        stem, ext = os.path.splitext(name)
        if stem.isascii() and stem.isdigit() and ext.lower() in IMAGE_SUFFIXES:
            found.setdefault(int(stem), name)
    return sorted(found.items())


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from an image file's header; None when it cannot be read."""
    try:
        with open_regular(path) as f:
            head = header_size(f.read(65536))
    except OSError:
        return None
    return (head[1], head[2]) if head and head[1] > 0 and head[2] > 0 else None


def common_image_size(rgb: Path, names: list[str]) -> tuple[int, int] | None:
    """(width, height) that most of a spread sample of the images ``names`` in ``rgb/`` have (FreiHAND's are all
    one size: one damaged or odd file, the first say, must not decide it); None when no header can be read."""
    sizes = Counter(size for size in (image_size(rgb / name) for name in probe_names(names)) if size is not None)
    return sizes.most_common(1)[0][0] if sizes else None
