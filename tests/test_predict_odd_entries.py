"""Entries of an input folder or glob that are no image file (a FIFO, a device, a link to nothing, under an image's
name) are skipped by ``handpose predict`` with the reason and counted, never dropped in silence nor opened so that
they block; an unreadable image read for a box names its path once."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.inference.inputs import image_files
from handpose.inference.prepare import CropSpec, read_image


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "shots"
    folder.mkdir()
    cv2.imwrite(str(folder / "hand.png"), np.full((64, 48, 3), 128, np.uint8))
    os.mkfifo(folder / "pipe.jpg")
    (folder / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_a_folder_and_a_glob_list_entries_under_image_names_that_are_no_file(odd_folder: Path) -> None:
    names = ["gone.jpg", "hand.png", "pipe.jpg"]
    assert [p.name for p in image_files(odd_folder)] == names
    assert [p.name for p in image_files(str(odd_folder / "*"))] == names
    with pytest.raises(ValueError, match=r"pipe\.jpg: it is a FIFO \(named pipe\), not an image file"):
        read_image(odd_folder / "pipe.jpg")
    with pytest.raises(ValueError, match=r"gone\.jpg: it is a link to nothing, not an image file"):
        read_image(odd_folder / "gone.jpg")
    with pytest.raises(FileNotFoundError, match="image not found"):
        read_image(odd_folder / "missing.jpg")
    with pytest.raises(ValueError, match=r"pipe\.jpg: it is a FIFO"):
        CropSpec(input_size=64).prepare_file(odd_folder / "pipe.jpg", (0, 0, 10, 10))


def test_predict_over_a_folder_skips_and_counts_a_fifo_and_a_dead_link(
        odd_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from handpose.cli import main

    code = main(["predict", str(odd_folder), "--detector", "none", "--maps", "none", "--threads", "1",
                 "--out", str(tmp_path / "out")])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 0, text
    assert "skipped 2 of 3 images" in text
    assert "pipe.jpg: it is a FIFO (named pipe), not an image file" in text
    assert "gone.jpg: it is a link to nothing, not an image file" in text
    assert (tmp_path / "out" / "hand.json").is_file()


def test_an_image_over_the_pixel_limit_read_for_a_box_names_its_path_once(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, 100000, 100000)
    with pytest.raises(ValueError) as err:
        CropSpec(input_size=64).prepare_file(bomb, (0, 0, 100, 100))
    message = str(err.value)
    assert message.count(str(bomb)) == 1, message
    assert "image too large" in message and "100000 x 100000" in message
