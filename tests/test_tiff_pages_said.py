"""A multi-page TIFF is read at its first page (OpenCV's imdecode): that is said once per process, naming the file
and its page count, instead of the other pages being left out without a word; a one-page TIFF says nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.data import images
from handpose.data.tiff_pages import tiff_page_count


def _pages(count: int) -> list[np.ndarray]:
    """``count`` 24 x 32 BGR pages, page k filled with 40 * (k + 1)."""
    return [np.full((24, 32, 3), 40 * (k + 1), np.uint8) for k in range(count)]


def test_a_multi_page_tiff_is_said_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(images, "_SAID", set())
    assert cv2.imwritemulti(str(tmp_path / "three.tif"), _pages(3))
    assert cv2.imwritemulti(str(tmp_path / "again.tif"), _pages(2))
    assert cv2.imwrite(str(tmp_path / "one.tif"), _pages(1)[0])
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert images.load_image(tmp_path / "one.tif")[0].shape == (24, 32, 3)
        assert not caplog.records  # one page: nothing left out
        img, _ = images.load_image(tmp_path / "three.tif")
        assert int(img[0, 0, 0]) == 40  # the first page, as before
        images.load_image(tmp_path / "again.tif")
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1, said
    assert "three.tif: a TIFF of 3 pages, of which only the first is read" in said[0]


def test_pages_are_counted_as_opencv_counts_them(tmp_path: Path) -> None:
    for count in (1, 3):
        path = tmp_path / f"{count}.tif"
        assert cv2.imwritemulti(str(path), _pages(count))
        assert tiff_page_count(path.read_bytes()) == count == cv2.imcount(str(path))


def test_big_endian_and_bigtiff_pages_are_counted(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    stack = np.stack(_pages(4))  # (4, 24, 32, 3)
    for name, options in (("mm.tif", {"byteorder": ">"}), ("big.tif", {"bigtiff": True})):
        path = tmp_path / name
        tifffile.imwrite(path, stack, photometric="rgb", metadata=None, **options)
        assert tiff_page_count(path.read_bytes()) == 4, name


def test_a_broken_chain_counts_the_pages_before_it() -> None:
    assert tiff_page_count(b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00") == 1  # a directory of no entries, no next
    looped = b"II*\x00\x08\x00\x00\x00" + b"\x00\x00" + b"\x08\x00\x00\x00"  # its next directory is itself
    assert tiff_page_count(looped) == 1
    assert tiff_page_count(b"II*\x00\xff\xff\x00\x00") == 1  # out of the data
