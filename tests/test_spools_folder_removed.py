"""The output folder of a prediction run removed or moved part way (`rm -rf out`, `mv out old` while predict runs):
the later images' files make it again, and the COCO files and video record, whose lines wait in hidden spools in
that folder, were lost at the end ("coco_results.json: could not be written (No such file or directory)"). Each spool
is read back through a reader opened with it, which outlives the spool's name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from handpose.line_spools import LineSpools


@pytest.mark.parametrize("how", ["removed", "moved"])
def test_spooled_lines_outlive_their_folder(tmp_path: Path, how: str) -> None:
    out = tmp_path / "out"
    target = out / "coco_results.json"
    with LineSpools(out, ["coco_results", "coco_images"]) as spools:
        spools.write(0, '{"image_id": 1}', target)
        spools.write(1, '{"id": 1}', target)
        if how == "removed":
            shutil.rmtree(out)
        else:
            out.rename(tmp_path / "old")
        spools.write(0, '{"image_id": 2}', target)  # the run goes on
        spools.close()
        assert list(spools.lines(0)) == ['{"image_id": 1}', '{"image_id": 2}']
        assert list(spools.lines(1)) == ['{"id": 1}']
