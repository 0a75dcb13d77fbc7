"""An image OpenCV cannot decode is refused with handpose's reason alone: OpenCV's own log lines about it (libtiff's
``TIFF_Error`` for a TIFF cut short) used to follow on standard error, one set per file of a folder. They are kept
off while it decodes, shown with ``-vv``, and OpenCV's log level is put back after, however many threads decode at
once."""

from __future__ import annotations

import io
import logging
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from handpose.data import images
from handpose.opencv_quiet import _opencv_log, quiet_opencv


def _cut_tiff(path: Path) -> Path:
    """A 64 x 64 uncompressed TIFF whose directory comes first (as Pillow writes it), cut inside its pixels: the
    header is whole, so OpenCV's libtiff starts and fails on the strip."""
    pixels = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="TIFF")
    data = out.getvalue()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def test_a_cut_tiff_is_refused_without_opencvs_lines(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    cut = _cut_tiff(tmp_path / "cut.tif")
    level = _opencv_log().getLogLevel()
    with pytest.raises(images.ImageError, match=r"cut\.tif: corrupt or truncated image \(cannot be decoded\)"):
        images.load_image(cut)
    err = capfd.readouterr().err
    assert "TIFF" not in err and "imdecode" not in err, err
    assert _opencv_log().getLogLevel() == level


def test_opencvs_lines_are_shown_with_debug_logging(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    cut = _cut_tiff(tmp_path / "cut.tif")
    logger = logging.getLogger(images.__name__)
    before = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with pytest.raises(images.ImageError):
            images.load_image(cut)
    finally:
        logger.setLevel(before)
    assert "TIFF_Error" in capfd.readouterr().err  # the lines the other test finds gone are OpenCV's, and real


def test_overlapping_threads_put_the_level_back() -> None:
    log = _opencv_log()
    level = log.getLogLevel()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, int] = {}

    def first() -> None:
        with quiet_opencv():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with quiet_opencv():
            second_in.set()
            first_out.wait(5)
            seen["inside after the first left"] = log.getLogLevel()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen["inside after the first left"] == getattr(log, "LOG_LEVEL_FATAL", 1)
    assert log.getLogLevel() == level
