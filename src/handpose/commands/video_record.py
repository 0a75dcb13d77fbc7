"""The files ``handpose predict`` writes for a video or webcam (NAME.json, coco_results.json, coco_images.json),
written as the frames come, so that memory stays flat however long the video runs.

Each frame's record (``{"frame", "time", "hands"}``) and its COCO results go, one line each, into two hidden
temporary files in the output folder (``.NAME.frames.tmp-<pid>`` and ``.NAME.coco.tmp-<pid>``: a killed run's are
removed by ``files.remove_stale_temporaries`` when a later record of NAME starts there, and a failed run's, a full
disk's included, as it ends); :meth:`VideoRecord.finish` then writes the three files, each
atomically, by copying those lines, keeping the first ``count`` frames (a frame an interrupt cut out of the
video is left out of the record too). NAME.json and coco_results.json read as the whole-run ``json.dumps`` of
them did. Kept in memory until the end, the hands of every frame took about 1.7 kB each, and writing them about
18 kB each at once: an hour at 30 frames/s with two hands a frame, 0.4 GB growing through the run and 4 GB at
its end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from handpose.files import (
    TMP_PREFIX,
    DiskFullError,
    atomic_write,
    disk_full,
    json_text,
    named_error,
    remove_stale_temporaries,
)
from handpose.inference.results import HAND_CATEGORY_ID, Hands


class VideoRecord:
    """Per-frame records and COCO results of a video streamed to temporary files in ``folder`` (see the module
    docstring); use as a context manager, which removes the temporaries however the run ends."""

    def __init__(self, folder: Path, stem: str, category_id: int | str = HAND_CATEGORY_ID) -> None:
        self.folder, self.stem, self.category_id = Path(folder), stem, category_id
        self.frames_path = self.folder / f"{TMP_PREFIX}{stem}.frames.tmp-{os.getpid()}"
        self.coco_path = self.folder / f"{TMP_PREFIX}{stem}.coco.tmp-{os.getpid()}"
        self._frames: IO[str] | None = None
        self._coco: IO[str] | None = None
        self.count = 0  # frames added

    def __enter__(self) -> VideoRecord:
        self.folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.folder, (f"{self.stem}.frames.tmp-", f"{self.stem}.coco.tmp-"))  # killed runs'
        try:
            self._frames = open(self.frames_path, "w", encoding="utf-8")
            self._coco = open(self.coco_path, "w", encoding="utf-8")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._close()
        finally:  # also when closing fails (a full disk refuses the buffered lines): they hold its space
            self.frames_path.unlink(missing_ok=True)
            self.coco_path.unlink(missing_ok=True)

    def _close(self) -> None:
        """Close both temporaries, the second also when closing the first fails; the first error is raised."""
        files, self._frames, self._coco = (self._frames, self._coco), None, None
        error: BaseException | None = None
        for f in files:
            try:
                if f is not None:
                    f.close()
            except BaseException as exc:  # noqa: BLE001 (raised below, once both are closed)
                error = error or exc
        if error is not None:
            raise error

    def add(self, index: int, t: float, hands: Hands) -> None:
        """Record frame ``index`` (frames come in order from 0) at ``t`` seconds with its ``hands``."""
        assert self._frames is not None and self._coco is not None, "VideoRecord.add outside its with block"
        frame = {"frame": index, "time": round(t, 4), "hands": [h.to_dict() for h in hands]}
        self._frames.write(json_text(frame) + "\n")
        for result in hands.to_coco(index):
            result["category_id"] = self.category_id
            self._coco.write(f"{index}\t{json_text(result)}\n")  # the frame first: finish keeps frames under count
        self.count = index + 1

    def _frame_lines(self, count: int) -> Iterator[str]:
        with open(self.frames_path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= count:
                    break
                yield line.rstrip("\n")

    def _coco_lines(self, count: int) -> Iterator[str]:
        with open(self.coco_path, encoding="utf-8") as f:
            for line in f:
                index, text = line.rstrip("\n").split("\t", 1)
                if int(index) >= count:
                    break
                yield text

    def finish(self, count: int, header: dict[str, Any], error: str | None, record_path: Path,
               coco_paths: list[Path], source: str, width: int, height: int) -> None:
        """Write ``record_path`` (``header``'s keys, ``frames``: the first ``count`` frames, ``error``) and the COCO
        files ``coco_paths`` (results, then images ``source#i`` of ``width`` x ``height``), each atomically."""
        from handpose.commands.predict_files import coco_categories

        try:
            self._close()  # the lines still buffered are written now
        except OSError as exc:  # the frames streamed so far did not fit: named as atomic_write names its files
            if disk_full(exc):
                raise DiskFullError(f"{record_path}: the disk is full (no space left on device); nothing was written "
                                    "there and the previous file, if any, is unchanged") from exc
            raise named_error(exc, record_path) from exc
        head = json_text(header)
        write_list(record_path, head[:-1] + (", " if header else "") + '"frames": [', self._frame_lines(count),
                    '], "error": ' + json_text(error) + "}\n")
        write_list(coco_paths[0], "[", self._coco_lines(count), "]\n")
        images = (json_text({"id": i, "file_name": f"{source}#{i}", "width": width, "height": height})
                  for i in range(count))
        categories = json_text(coco_categories(self.category_id))
        write_list(coco_paths[1], '{"images": [\n', images, '],\n"categories": ' + categories + "}\n", ",\n")


def write_list(path: Path, opening: str, items: Iterator[str], closing: str, separator: str = ", ") -> None:
    """``opening``, the ``items`` joined by ``separator``, ``closing``: written to ``path`` atomically, one item at a
    time."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(opening)
            for i, item in enumerate(items):
                f.write(separator + item if i else item)
            f.write(closing)

    atomic_write(path, write)
