"""`handpose predict` on a folder when the disk fills part way: the COCO results stream to a hidden temporary file
as the images go (``commands/predict_coco_stream``), and a line that cannot be written there is reported as the
COCO file it was for, a full disk, not as an unnamed "[Errno 28]" of a file the user never asked for."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.cli import main
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model

IMAGES = 20  # their results fill the spool's write buffer (8 kB) part way through the run


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_part_way_names_the_coco_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "tiny.safetensors"
    save_weights(build_model("tiny"), weights)
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(IMAGES):
        cv2.imwrite(str(photos / f"p{i:02d}.jpg"), rng.integers(0, 255, (48, 48, 3), dtype=np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    spool = out / f".coco_results.tmp-{os.getpid()}"  # this process's spool of the results: every write fails
    spool.symlink_to("/dev/full")
    code = main(["predict", str(photos), "--model", str(weights), "--detector", "none", "--right", "--no-maps",
                 "--threads", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {out / 'coco_results.json'}: the disk is full (no space left on device)" in err, err
    assert not (out / "coco_results.json").exists() and not (out / "coco_images.json").exists()
    assert not [p.name for p in out.iterdir() if ".tmp-" in p.name]  # the spools are removed


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_interrupt_on_a_full_disk_stays_an_interrupt(tmp_path: Path) -> None:
    """A second Ctrl-C (or any error) ends the run while lines wait in a spool's buffer and the disk is full: the
    spools are closed and removed on the way out, and closing's own failure must not take the interrupt's place."""
    from handpose.line_spools import LineSpools

    spools = LineSpools(tmp_path, ("coco_results", "coco_images"))
    spools.paths[0].symlink_to("/dev/full")
    with pytest.raises(KeyboardInterrupt), spools:
        spools.write(0, '{"image_id": 0}', tmp_path / "coco_results.json")  # buffered: no write has failed yet
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_spool_that_cannot_be_closed_is_named_after_its_own_file(tmp_path: Path) -> None:
    """The lines still buffered in the second spool do not fit: the error names that spool's file, not the first's."""
    from handpose.files import DiskFullError
    from handpose.line_spools import LineSpools

    spools = LineSpools(tmp_path, ("coco_results", "coco_images"))
    spools.paths[1].symlink_to("/dev/full")
    targets = [tmp_path / "coco_results.json", tmp_path / "coco_images.json"]
    with pytest.raises(DiskFullError, match=r"coco_images\.json: the disk is full"), spools:
        spools.write(0, '{"image_id": 0}', targets[0])
        spools.write(1, '{"id": 0}', targets[1])  # buffered: the failure comes when the spool is closed
        spools.close(targets)
    assert list(tmp_path.iterdir()) == []
