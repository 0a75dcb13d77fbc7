"""Arrays and boxes a Python caller gets wrong are named as what they are: an empty array as empty (not as a float
image or a shape that reads like (H, W, 3)), a float image in 0-255 with its own fix, a box given as a string as a
string (not numpy's conversion error)."""

from __future__ import annotations

import numpy as np
import pytest

from handpose.inference.inputs import to_bgr
from handpose.inference.pipeline import to_xywh


@pytest.mark.parametrize("array", [np.zeros((0, 0, 3), np.uint8), np.array([]), np.zeros((5, 0), np.uint8)])
def test_an_empty_array_is_named_empty(array: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"^the image array is empty \(shape \(.*\)\): it holds no pixels$"):
        to_bgr(array)


def test_a_float_image_gets_the_fix_for_either_range() -> None:
    image = np.full((8, 8, 3), 200.0, np.float32)  # 0-255 floats: the [0, 1] fix alone would saturate them
    with pytest.raises(ValueError, match=r"for values in 0-255 image\.round\(\)\.clip\(0, 255\)\.astype") as err:
        to_bgr(image)
    assert "(image * 255)" in str(err.value)  # the [0, 1] case keeps its own


@pytest.mark.parametrize("box, said", [
    ("10,10,100,100", "box must be 4 numbers (xywh) in a list, tuple or array; got the string '10,10,100,100'"),
    ([1, 2, "x", 4], "box must be 4 numbers (xywh); got [1, 2, 'x', 4]"),
])
def test_a_box_that_is_no_numbers_is_named_as_the_box(box: object, said: str) -> None:
    with pytest.raises(ValueError) as err:
        to_xywh(box)  # type: ignore[arg-type]
    assert str(err.value) == said
