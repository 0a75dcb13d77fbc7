"""A folder whose images lie two or more levels down (a labelling tool's export root: images/<task>/...) is refused
with where an image lies and the glob that reads them; the message named nothing, as if the tree held no image."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.inference.inputs import first_image_below, image_files

PHOTO = np.full((24, 32, 3), 120, np.uint8)


def test_images_two_levels_down_are_named_with_the_glob(tmp_path: Path) -> None:
    (tmp_path / "images" / "task1").mkdir(parents=True)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "task1.json").write_text("{}")
    cv2.imwrite(str(tmp_path / "images" / "task1" / "0001.jpg"), PHOTO)
    with pytest.raises(ValueError, match="in folder") as err:
        image_files(tmp_path)
    text = str(err.value)
    assert f"images lie further down ({Path('images', 'task1', '0001.jpg')}, say)" in text
    assert str(tmp_path / "**" / "*") in text
    assert [p.name for p in image_files(str(tmp_path / "**" / "*"))] == ["0001.jpg"]  # what the hint says works


def test_a_tree_without_images_and_hidden_images_give_no_hint(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "notes.txt").write_text("x")
    (tmp_path / ".cache" / "deep").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / ".cache" / "deep" / "thumb.jpg"), PHOTO)  # the glob ** reads no hidden folder
    with pytest.raises(ValueError) as err:
        image_files(tmp_path)
    assert str(err.value).endswith(f"in folder {tmp_path}")
    assert first_image_below(tmp_path) is None


def test_the_look_down_opens_a_bounded_number_of_folders(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    cv2.imwrite(str(deep / "x.png"), PHOTO)
    assert first_image_below(tmp_path) == deep / "x.png"
    assert first_image_below(tmp_path, most_folders=3) is None  # tmp, a, b opened; c not reached
