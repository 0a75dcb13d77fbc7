"""A detection json that cannot be read as COCO, or lists no image, is named as the cause of the error, before (and
instead of) the folders where image files were looked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handpose.cli import main
from handpose.detection.coco import read_detection_images


@pytest.mark.parametrize("text, cause", [
    ('{"images": [', "JSONDecodeError"),
    ("", "JSONDecodeError"),
    ("{}", "no 'images' / 'annotations' lists"),
])
def test_a_json_not_readable_as_coco_is_the_error(tmp_path: Path, text: str, cause: str) -> None:
    path = tmp_path / "hands.json"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        read_detection_images(path)
    message = str(err.value)
    assert message.startswith(f"{path}: no readable COCO json") and cause in message
    assert "looked for in" not in message  # the image folders are not what is wrong


def test_a_json_listing_no_image_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "hands.json"
    path.write_text(json.dumps({"images": [], "annotations": []}))
    assert main(["eval", "--task", "detect", "--weights", "pretrained:detector", "--data", str(path)]) != 0
    err = capsys.readouterr().err
    assert "no image listed ('images' is empty)" in err and "looked for in" not in err


def test_a_missing_image_file_still_names_the_folders_looked_in(tmp_path: Path) -> None:
    path = tmp_path / "hands.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "gone.jpg"}],
                                "annotations": [{"image_id": 1, "bbox": [1, 1, 5, 5]}]}))
    with pytest.raises(ValueError, match=r"(?s)no usable image.*looked for in.*missing image"):
        read_detection_images(path)
