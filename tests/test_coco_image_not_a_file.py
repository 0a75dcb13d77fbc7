"""A COCO json whose image file is a FIFO or a link to nothing: the annotation is skipped as a missing image, and the
skip summary says what stands there (the bare path read as though nothing were there)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from handpose.data import skip_report as R
from handpose.data.formats.load import read_samples


def test_an_image_entry_that_is_a_fifo_or_a_dead_link_is_skipped_saying_what_it_is(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "good.jpg"), np.full((80, 60, 3), 128, np.uint8))
    os.mkfifo(tmp_path / "images" / "pipe.jpg")
    (tmp_path / "images" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    names = ["good.jpg", "pipe.jpg", "gone.jpg", "absent.jpg"]
    points = [v for i in range(21) for v in (10.0 + i, 20.0 + i, 2)]
    (tmp_path / "hands_test.json").write_text(json.dumps({
        "images": [{"id": i + 1, "file_name": n, "width": 60, "height": 80} for i, n in enumerate(names)],
        "annotations": [{"id": i + 1, "image_id": i + 1, "bbox": [5, 15, 30, 30], "keypoints": points}
                        for i in range(len(names))],
        "categories": [{"id": 1, "name": "hand"}]}))
    tagged, fmt, report = read_samples(tmp_path / "hands_test.json")
    assert fmt == "coco" and report.counts[R.MISSING_IMAGE] == 3
    summary = report.summary("annotations")
    assert "pipe.jpg is a FIFO (named pipe)" in summary, summary
    assert "gone.jpg is a link to nothing" in summary, summary
    assert "absent.jpg)" in summary, summary  # nothing there: the path alone, as before
