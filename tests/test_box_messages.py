"""A hand box typed wrong (`predict --box`, or `box=` in Python) is refused with a message that shows the box as it
was given and says how to write it: numbers split by spaces are named as such, non-finite numbers are refused at the
flag, and the numbers are printed plainly (no numpy reprs)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.cli import main
from handpose.commands.predict import parse_box
from handpose.inference.pipeline import to_xywh
from handpose.inference.prepare import check_box


def test_parse_box_reads_commas_with_or_without_spaces() -> None:
    assert parse_box("120,80,200,220") == (120.0, 80.0, 200.0, 220.0)
    assert parse_box("120, 80, 200, 220") == (120.0, 80.0, 200.0, 220.0)
    assert parse_box("-5.5,10,20,30") == (-5.5, 10.0, 20.0, 30.0)
    assert parse_box(None) is None


def test_box_split_by_spaces_is_named_not_read_as_one_number() -> None:
    with pytest.raises(ValueError, match="split by spaces") as err:
        parse_box("120 80 200 220")
    assert "separated by commas" in str(err.value) and "'120 80 200 220'" in str(err.value)


@pytest.mark.parametrize("text, said", [("120,80,200", "got 3 numbers in '120,80,200'"),
                                        ("7", "got 1 number in '7'"),
                                        ("nan,0,10,10", "got 'nan,0,10,10'"),
                                        ("1,2,inf,4", "got '1,2,inf,4'"),
                                        ("[1,2,3,4]", "got '[1,2,3,4]'")])
def test_parse_box_says_what_was_wrong(text: str, said: str) -> None:
    with pytest.raises(ValueError, match="four numbers, finite and separated by commas") as err:
        parse_box(text)
    assert said in str(err.value)


def test_cli_refuses_a_nan_box_at_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.full((40, 60, 3), 90, np.uint8))
    assert main(["predict", str(photo), "--box", "nan,0,10,10", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--box must be four numbers, finite" in err and "np.float64" not in err
    assert not (tmp_path / "out").exists()


def test_python_box_messages_print_plain_numbers() -> None:
    with pytest.raises(ValueError, match=r"got nan,0,10,10$") as err:
        check_box((float("nan"), 0, 10, 10), (40, 60))
    assert "np.float64" not in str(err.value)
    with pytest.raises(ValueError, match=r"box must be 4 numbers \(xywh\); got 3: 1,2,3$"):
        to_xywh((1, 2, 3))
