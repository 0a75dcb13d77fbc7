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

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from handpose.files import json_text, write_list
from handpose.inference.results import HAND_CATEGORY_ID, Hands
from handpose.line_spools import LineSpools


class VideoRecord:
    """Per-frame records and COCO results of a video streamed to temporary files in ``folder`` (see the module
    docstring); use as a context manager, which removes the temporaries however the run ends."""

    def __init__(self, folder: Path, stem: str, category_id: int | str = HAND_CATEGORY_ID) -> None:
        self.folder, self.category_id = Path(folder), category_id
        self.spools = LineSpools(self.folder, (f"{stem}.frames", f"{stem}.coco"))
        self.count = 0  # frames added

    def __enter__(self) -> VideoRecord:
        self.spools.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.spools.__exit__(*exc)

    def add(self, index: int, t: float, hands: Hands) -> None:
        """Record frame ``index`` (frames come in order from 0) at ``t`` seconds with its ``hands``."""
        assert self.spools.files, "VideoRecord.add outside its with block"
        frames, coco = self.spools.files
        frame = {"frame": index, "time": round(t, 4), "hands": [h.to_dict() for h in hands]}
        frames.write(json_text(frame) + "\n")
        for result in hands.to_coco(index):
            result["category_id"] = self.category_id
            coco.write(f"{index}\t{json_text(result)}\n")  # the frame first: finish keeps frames under count
        self.count = index + 1

    def _frame_lines(self, count: int) -> Iterator[str]:
        for i, line in enumerate(self.spools.lines(0)):
            if i >= count:
                break
            yield line

    def _coco_lines(self, count: int) -> Iterator[str]:
        for line in self.spools.lines(1):
            index, text = line.split("\t", 1)
            if int(index) >= count:
                break
            yield text

    def finish(self, count: int, header: dict[str, Any], error: str | None, record_path: Path,
               coco_paths: list[Path], source: str, width: int, height: int) -> None:
        """Write ``record_path`` (``header``'s keys, ``frames``: the first ``count`` frames, ``error``) and the COCO
        files ``coco_paths`` (results, then images ``source#i`` of ``width`` x ``height``), each atomically."""
        from handpose.commands.predict_files import coco_categories

        self.spools.close([record_path, coco_paths[0]])  # the lines still buffered are written now
        head = json_text(header)
        write_list(record_path, head[:-1] + (", " if header else "") + '"frames": [', self._frame_lines(count),
                    '], "error": ' + json_text(error) + "}\n")
        write_list(coco_paths[0], "[", self._coco_lines(count), "]\n")
        images = (json_text({"id": i, "file_name": f"{source}#{i}", "width": width, "height": height})
                  for i in range(count))
        categories = json_text(coco_categories(self.category_id))
        write_list(coco_paths[1], '{"images": [\n', images, '],\n"categories": ' + categories + "}\n", ",\n")

