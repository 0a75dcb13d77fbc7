"""The COCO files of ``handpose predict`` on images (coco_results.json, coco_images.json), written as the images come,
so that memory stays flat over a folder of any size.

Each image's entry and its hands' COCO results go, one line each, into two hidden temporary files in the output folder
(``.coco_results.tmp-<pid>`` and ``.coco_images.tmp-<pid>``: a killed run's are removed when a later run starts
there, and the run's own however it ends); :meth:`CocoStream.finish` then writes the two files atomically by copying
those lines. Kept in a list until the end, they grew the process by about 3.3 kB an image (one hand each, 3,000
images: 432 to 440 MB) and writing them at once added 14 MB more for 1,000 images (at that rate, 0.3 GB through a
100,000-image folder and 1.4 GB more at its end).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from handpose.commands.predict_files import OutputFolder, check_coco_names, coco_categories
from handpose.commands.video_record import write_list
from handpose.files import TMP_PREFIX, DiskFullError, disk_full, json_text, named_error, remove_stale_temporaries
from handpose.inference.results import HAND_CATEGORY_ID

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
        self.paths = [out.path / f"{TMP_PREFIX}{stem}.tmp-{os.getpid()}" for stem in STEMS]
        self._files: list[IO[str]] = []
        self.hands = 0  # results added
        self.images = 0  # image entries added

    def __enter__(self) -> CocoStream:
        self.out.path.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.out.path, tuple(f"{stem}.tmp-" for stem in STEMS))  # killed runs'
        try:
            for path in self.paths:
                self._files.append(open(path, "w", encoding="utf-8"))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._close()
        finally:  # also when closing fails (a full disk refuses the buffered lines): they hold its space
            for path in self.paths:
                path.unlink(missing_ok=True)

    def _close(self) -> None:
        """Close both temporaries, the second also when closing the first fails; the first error is raised."""
        files, self._files = self._files, []
        error: BaseException | None = None
        for f in files:
            try:
                f.close()
            except BaseException as exc:  # noqa: BLE001 (raised below, once both are closed)
                error = error or exc
        if error is not None:
            raise error

    def add(self, image: dict[str, Any], results: list[dict[str, Any]]) -> None:
        """Record one image's entry (``id``, ``file_name``, ``width``, ``height``) and its hands' COCO results, each
        given its category (``category_of`` its ``is_left``)."""
        assert self._files, "CocoStream.add outside its with block"
        for result in results:
            result["category_id"] = self.category_of(bool(result["is_left"]))
            self._files[0].write(json_text(result) + "\n")
        self._files[1].write(json_text(image) + "\n")
        self.hands += len(results)
        self.images += 1

    def _lines(self, which: int) -> Iterator[str]:
        with open(self.paths[which], encoding="utf-8") as f:
            for line in f:
                yield line.rstrip("\n")

    def finish(self) -> list[Path]:
        """Write coco_results.json (the results list) and coco_images.json (the images and the categories), each
        atomically, checked once more as predict's own to write; returns their paths."""
        targets = check_coco_names(self.out)
        try:
            self._close()  # the lines still buffered are written now
        except OSError as exc:  # the lines streamed so far did not fit: named as atomic_write names its files
            if disk_full(exc):
                raise DiskFullError(f"{targets[0]}: the disk is full (no space left on device); nothing was written "
                                    "there and the previous file, if any, is unchanged") from exc
            raise named_error(exc, targets[0]) from exc
        self.out.claim(targets)
        write_list(targets[0], "[", self._lines(0), "]\n")
        categories = json_text(coco_categories(self.category_id, self.by_side))
        write_list(targets[1], '{"images": [\n', self._lines(1), '],\n"categories": ' + categories + "}\n", ",\n")
        return targets
