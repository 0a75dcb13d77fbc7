"""A folder or a glob whose files include images of a format handpose does not read (an animated GIF, a phone's
HEIC) names them in a warning, or in the error where nothing else is there to read: they used to be passed over
without a word (a folder of iPhone photos said only that it held no images)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.inference.inputs import image_files


def test_a_folders_unread_images_are_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "b.gif").write_bytes(b"GIF89a" + bytes(20))
    (tmp_path / "c.HEIC").write_bytes(bytes(20))
    (tmp_path / "notes.txt").write_text("not an image")
    with caplog.at_level(logging.WARNING, logger="handpose.inference.inputs"):
        assert image_files(tmp_path) == [tmp_path / "a.png"]
        assert image_files(str(tmp_path / "*")) == [tmp_path / "a.png"]
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said
    for message in said:
        assert "left out 2 GIF and HEIC files (b.gif, ...), a format handpose does not read" in message, message
        assert "notes.txt" not in message


def test_a_folder_of_only_unread_images_says_what_it_holds(tmp_path: Path) -> None:
    for name in ("IMG_0001.HEIC", "IMG_0002.HEIC"):
        (tmp_path / name).write_bytes(bytes(20))
    with pytest.raises(ValueError, match=r"in folder .*; it holds 2 HEIC files \(IMG_0001\.HEIC, \.\.\.\)"):
        image_files(tmp_path)
    with pytest.raises(ValueError, match=r"no images .* match .*; it matches 2 HEIC files"):
        image_files(str(tmp_path / "*"))
