"""The synthetic backgrounds' photos where their package folder's path holds a character beyond ASCII (Python
installed under a user name with an umlaut on Windows, where ``cv2.imread`` cannot open such a path: OpenCV issue
4292, it returns None). Simulated with copies of the photos in such a folder and a ``cv2.imread`` that answers as
Windows' does for it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.synth import photos


@pytest.fixture
def fresh_photos() -> Iterator[None]:
    """The photos read afresh before and after (they are kept once read)."""
    photos.photos.cache_clear()
    yield
    photos.photos.cache_clear()


def test_photos_under_a_non_ascii_folder(fresh_photos: None, monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    expected = photos.photos()  # read from the installed packages, as on Linux
    assert expected, "no background photos installed here to copy"
    photos.photos.cache_clear()
    folders = {}
    for package, rel in photos.PHOTO_FILES:
        source = photos._package_dir(package)
        if source is not None and (source / rel).is_file():
            folders[package] = tmp_path / "J\u00fcrgen" / package
            (folders[package] / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, folders[package] / rel)
    monkeypatch.setattr(photos, "_package_dir", lambda name: folders.get(name))
    real_imread = cv2.imread

    def windows_imread(path: str, *flags: int) -> np.ndarray | None:
        return real_imread(path, *flags) if str(path).isascii() else None

    monkeypatch.setattr(cv2, "imread", windows_imread)
    got = photos.photos()
    assert len(got) == len(expected)
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))  # the same pixels as cv2.imread gave
