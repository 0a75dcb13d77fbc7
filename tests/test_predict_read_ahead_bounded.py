"""``handpose predict`` on a folder decodes images ahead of the network within a pixel allowance: a folder of large
photos holds the image in hand and one more decoded, not the image in hand and four more (1.44 GB resident for a
folder of 50-megapixel JPEGs against 0.84 GB for one of them); small images are still read four ahead."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.commands import predict_files
from handpose.data.images import header_pixels


def _most_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]) -> int:
    """The most images decoded and not yet given to the caller at any time, over a folder of 8 images."""
    paths = []
    for i in range(8):
        paths.append(tmp_path / f"img{i}.png")
        cv2.imwrite(str(paths[-1]), np.full((*size, 3), i, np.uint8))
    lock, done, given, most = threading.Lock(), [0], [0], [0]
    real = predict_files.read_image

    def counting_read(path: Path, upright: bool = False) -> np.ndarray:
        image = real(path, upright=upright)
        with lock:
            done[0] += 1
            most[0] = max(most[0], done[0] - given[0])
        return image

    monkeypatch.setattr(predict_files, "read_image", counting_read)
    for k, (path, _, image) in enumerate(predict_files.read_ahead(paths, [p.stem for p in paths])):
        assert path == paths[k] and int(image[0, 0, 0]) == k  # in order, each its own
        time.sleep(0.05)  # the network's time: the readers get ahead
        with lock:
            given[0] += 1
    return most[0]


def test_large_images_are_read_one_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(predict_files, "READ_AHEAD_PIXELS", 3000, raising=False)  # 40 x 60: 2,400 px each
    assert _most_ahead(tmp_path, monkeypatch, (40, 60)) <= 2  # the image in hand and the next one


def test_small_images_are_read_several_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _most_ahead(tmp_path, monkeypatch, (40, 60)) >= 4


def test_header_pixels_of_files_and_of_what_is_not_one(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((30, 50, 3), np.uint8))
    assert header_pixels(tmp_path / "a.jpg") == 1500
    (tmp_path / "junk.png").write_bytes(b"not an image")
    assert header_pixels(tmp_path / "junk.png") is None
    assert header_pixels(tmp_path / "missing.png") is None
    assert header_pixels(tmp_path) is None  # a folder
