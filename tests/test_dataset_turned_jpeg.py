"""Dataset images are read as stored, EXIF orientation not applied (their labels are taken on the stored pixels):
a JPEG whose tag says to turn it is said once, so a dataset labelled on upright phone photos is not scored or
trained on sideways pixels without a word."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.data import images


def _phone_jpeg(path: Path, orientation: int) -> None:
    pil = pytest.importorskip("PIL.Image")
    exif = pil.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    pil.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(buf, "JPEG", exif=exif)
    path.write_bytes(buf.getvalue())


def test_a_turned_jpeg_read_as_stored_is_said_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(images, "_SAID", set())
    for name, orientation in (("a.jpg", 6), ("b.jpg", 8), ("plain.jpg", 1)):
        _phone_jpeg(tmp_path / name, orientation)
    cv2.imwrite(str(tmp_path / "c.png"), np.zeros((8, 8, 3), np.uint8))
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert images.load_image(tmp_path / "plain.jpg")[0].shape == (40, 60, 3)
        assert images.load_image(tmp_path / "c.png")[0].shape == (8, 8, 3)
        assert not caplog.records  # nothing to turn
        assert images.load_image(tmp_path / "a.jpg")[0].shape == (40, 60, 3)  # the stored grid, as before
        assert images.load_image(tmp_path / "b.jpg")[0].shape == (40, 60, 3)
        assert images.load_image(tmp_path / "a.jpg", upright=True)[0].shape == (60, 40, 3)  # predict's reading
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "a.jpg: its EXIF orientation tag (6) says to turn it" in said[0], said
    assert "turn its files upright first" in said[0]
