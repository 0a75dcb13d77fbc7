"""An image OpenCV cannot decode is refused with handpose's reason alone: OpenCV's own log lines about it (libtiff's
``TIFF_Error`` for a TIFF it cannot read) used to follow on standard error, one set per file of a folder. They are kept
off while it decodes, shown with ``-vv``, and OpenCV's log level is put back after, however many threads decode at
once."""

from __future__ import annotations

import io
import logging
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from handpose.data import images
from handpose.opencv_quiet import _opencv_log, quiet_opencv


def _undecodable_tiff(path: Path) -> Path:
    """A whole 64 x 64 TIFF whose Compression tag names a scheme libtiff lacks (50000): its header and strip are in
    place, so OpenCV's libtiff starts on it and fails (``TIFF_Error``)."""
    pixels = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="TIFF")  # little-endian, uncompressed, its directory at byte 8
    data = bytearray(out.getvalue())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for k in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * k
        if struct.unpack_from("<H", data, at)[0] == 259:  # Compression, a SHORT held in the entry
            struct.pack_into("<H", data, at + 8, 50000)
    path.write_bytes(bytes(data))
    return path


def test_an_undecodable_tiff_is_refused_without_opencvs_lines(tmp_path: Path,
                                                              capfd: pytest.CaptureFixture[str]) -> None:
    odd = _undecodable_tiff(tmp_path / "odd.tif")
    level = _opencv_log().getLogLevel()
    with pytest.raises(images.ImageError, match=r"odd\.tif: corrupt or truncated image \(cannot be decoded\)"):
        images.load_image(odd)
    err = capfd.readouterr().err
    assert "TIFF" not in err and "imdecode" not in err, err
    assert _opencv_log().getLogLevel() == level


def test_opencvs_lines_are_shown_with_debug_logging(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    odd = _undecodable_tiff(tmp_path / "odd.tif")
    logger = logging.getLogger(images.__name__)
    before = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with pytest.raises(images.ImageError):
            images.load_image(odd)
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
