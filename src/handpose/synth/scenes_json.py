"""The COCO keypoint json of a scene render (``hands_coco.json``), written as the scenes come, so that memory stays
flat however many scenes are rendered.

Each rendered chunk's annotations go, one line each, into a hidden temporary file in the render's folder
(``.hands_coco.tmp-<pid>``, ``handpose.line_spools``); chunks that finish ahead of an earlier one (rendering
workers) wait in memory until it comes, so the lines, and the annotation ids numbered from 1, are in scene order
whatever ``--workers`` is. :meth:`SceneLabels.finish` then writes the json atomically, its ``images`` made from the
count (every scene is one image) and its ``annotations`` copied line by line, the same bytes a json built whole
would have. Kept as dicts until the end, the labels grew a 4,000-scene render by about 6 kB a scene (160 x 120
scenes: 201 to 224 MB peak), and 100,000 scenes by some 0.6 GB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handpose.files import atomic_write, json_text
from handpose.keypoints import NAMES, SKELETON
from handpose.line_spools import LineSpools

Rendered = list[tuple[int, list[dict[str, Any]]]]  # one chunk: (scene index, its annotations without ids), in order


def categories() -> list[dict[str, Any]]:
    """The json's one category: the hand, with CMU's keypoint names and the skeleton (1-based, as COCO writes it)."""
    return [{"id": 1, "name": "hand", "supercategory": "person", "keypoints": list(NAMES),
             "skeleton": [[a + 1, b + 1] for a, b in SKELETON]}]


class SceneLabels:
    """The annotations of ``count`` scenes of ``width`` x ``height`` spooled in scene order into ``folder`` and
    written as ``folder/name`` with ``info`` (module docstring); a context manager that removes the temporary file
    however the render ends."""

    def __init__(self, folder: Path, name: str, count: int, width: int, height: int, info: dict[str, Any]) -> None:
        self.path, self.count, self.size, self.info = Path(folder) / name, count, (width, height), info
        self.spools = LineSpools(folder, (Path(name).stem,))
        self.waiting: dict[int, Rendered] = {}  # chunks finished ahead of an earlier one, by their first index
        self.next = 0  # the index of the next scene to spool
        self.hands = 0  # annotations spooled (the last one's id)

    def __enter__(self) -> SceneLabels:
        self.spools.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.spools.__exit__(*exc)

    def add(self, chunk: Rendered) -> None:
        """Take one rendered chunk (consecutive scenes); its annotations, and those of the chunks after it that came
        earlier, are spooled once every scene before them is."""
        if chunk:
            self.waiting[chunk[0][0]] = chunk
        while self.next in self.waiting:
            for index, anns in self.waiting.pop(self.next):
                for ann in anns:
                    self.hands += 1
                    self.spools.write(0, json_text({"id": self.hands, "image_id": index, **ann}), self.path)
                self.next = index + 1

    def finish(self) -> Path:
        """Write the json atomically (``info``, ``images``, ``annotations``, ``categories``, on one line as
        ``files.write_json`` with no indent lays it out); returns its path."""
        if self.waiting or self.next != self.count:
            came = sorted(i for chunk in self.waiting.values() for i, _ in chunk)  # held for the scenes before them
            end = came[0] if came else self.count
            held = f" (scenes {came[0]} to {came[-1]} came and wait for them)" if came else ""
            raise RuntimeError(f"{self.path}: the labels of scenes {self.next} to {end - 1} never came{held}")
        self.spools.close([self.path])  # the lines still buffered are written now
        width, height = self.size

        def write(tmp: Path) -> None:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write('{"info": ' + json_text(self.info) + ', "images": [')
                for i in range(self.count):
                    f.write((", " if i else "") + json_text({"id": i, "file_name": f"{i:08d}.jpg", "width": width,
                                                              "height": height}))
                f.write('], "annotations": [')
                for k, line in enumerate(self.spools.lines(0)):
                    f.write(", " + line if k else line)
                f.write('], "categories": ' + json_text(categories()) + "}\n")

        return atomic_write(self.path, write)
