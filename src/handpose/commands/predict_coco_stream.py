"""The COCO files of ``handpose predict`` on images (coco_results.json, coco_images.json), written as the images come,
so that memory stays flat over a folder of any size.

Each image's entry and its hands' COCO results go, one line each, into two hidden temporary files in the output folder
(``.coco_results.tmp-<pid>`` and ``.coco_images.tmp-<pid>``: a killed run's are removed when a later run starts
there, and the run's own however it ends); :meth:`CocoStream.finish` then writes the two files atomically by copying
those lines. Kept in a list until the end, they grew the process by about 3.3 kB an image (one hand each, 3,000
images: 432 to 440 MB) and writing them at once peaked 16 MB higher still (BENCHMARKS.md, "`handpose predict` on a
folder: memory"); at those rates a 100,000-image folder held 0.3 GB of results and its end took about 0.5 GB more.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from handpose.commands.predict_files import (
    COCO_IMAGES,
    COCO_RESULTS,
    OutputFolder,
    check_coco_names,
    coco_categories,
)
from handpose.files import json_text, write_list
from handpose.inference.results import HAND_CATEGORY_ID
from handpose.line_spools import LineSpools

STEMS = ("coco_results", "coco_images")  # the temporaries' stems, the COCO files' own


class CocoStream:
    """COCO results and image entries of a run streamed to temporary files in ``out`` (module docstring); use as a
    context manager, which removes the temporaries however the run ends. ``category_of(is_left)`` is each hand's
    category id (default: the hand category for both sides); ``by_side`` names a left and a right category in
    coco_images.json instead of one hand category."""

    def __init__(self, out: OutputFolder, category_id: int | str = HAND_CATEGORY_ID,
                 category_of: Callable[[bool], int | str] | None = None,
                 by_side: dict[bool, int | str] | None = None) -> None:
        self.out, self.category_id, self.by_side = out, category_id, by_side
        self.category_of = category_of or (lambda is_left: category_id)
        self.spools = LineSpools(out.path, STEMS)
        self.hands = 0  # results added
        self.images = 0  # image entries added

    def __enter__(self) -> CocoStream:
        self.spools.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.spools.__exit__(*exc)

    def add(self, image: dict[str, Any], results: list[dict[str, Any]]) -> None:
        """Record one image's entry (``id``, ``file_name``, ``width``, ``height``) and its hands' COCO results, each
        given its category (``category_of`` its ``is_left``). A line that cannot be written (a full disk) raises an
        OSError naming the COCO file it was for."""
        assert self.spools.files, "CocoStream.add outside its with block"
        for result in results:
            result["category_id"] = self.category_of(bool(result["is_left"]))
            self.spools.write(0, json_text(result), self.out.path / COCO_RESULTS)
        self.spools.write(1, json_text(image), self.out.path / COCO_IMAGES)
        self.hands += len(results)
        self.images += 1

    def finish(self) -> list[Path]:
        """Write coco_results.json (the results list) and coco_images.json (the images and the categories), each
        atomically, checked once more as predict's own to write; returns their paths."""
        targets = check_coco_names(self.out)
        self.spools.close(targets)  # the lines still buffered are written now
        self.out.claim(targets)
        write_list(targets[0], "[", self.spools.lines(0), "]\n")
        categories = json_text(coco_categories(self.category_id, self.by_side))
        write_list(targets[1], '{"images": [\n', self.spools.lines(1), '],\n"categories": ' + categories + "}\n", ",\n")
        return targets
