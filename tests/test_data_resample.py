"""Crops much smaller than their box come from block averages, not an aliasing bilinear warp, and a hand reads the
same from an array in memory, a PNG file and a JPEG decoded at a reduced size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from handpose.data.resample import cut_crops
from handpose.data.transforms import crop_matrix, warp
from handpose.inference.prepare import CropSpec


def test_a_far_smaller_crop_of_fine_stripes_is_their_average_grey() -> None:
    stripes = np.zeros((800, 800, 3), np.uint8)
    stripes[:, 1::2] = 255  # one-pixel columns: a bilinear warp at 1/8 reads whole columns of one colour
    M = crop_matrix((400.0, 400.0), 700.0, 88)  # 700 px -> 88 px: about 1/8
    aliased = warp(stripes, M, 88)
    averaged = cut_crops(stripes, [M], [88])[0]
    assert aliased[4:-4, 4:-4].std() > 40  # stripes of black and white beats
    assert abs(float(averaged[4:-4, 4:-4].mean()) - 127.5) < 3 and averaged[4:-4, 4:-4].std() < 3


def test_memory_png_and_reduced_jpeg_give_the_same_crop(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    fine = cv2.GaussianBlur(rng.integers(0, 256, (960, 1280, 3), dtype=np.uint8), (0, 0), 1.5)  # (H, W, 3)
    cv2.imwrite(str(tmp_path / "photo.png"), fine)
    cv2.imwrite(str(tmp_path / "photo.jpg"), fine, [cv2.IMWRITE_JPEG_QUALITY, 98])
    spec = CropSpec(input_size=96, box_padding=1.3)
    box = (300.0, 200.0, 600.0, 560.0)  # a 780 px crop square read at 96 px: the JPEG decodes at 1/4
    memory = spec.prepare(fine, box).crops[0].astype(np.float64)
    png = spec.prepare_file(tmp_path / "photo.png", box).crops[0].astype(np.float64)
    jpeg = spec.prepare_file(tmp_path / "photo.jpg", box).crops[0].astype(np.float64)
    np.testing.assert_array_equal(png, memory)  # the same pixels, the same path
    # DCT scaling and block averages agree to JPEG's own error; a warp from the full image was 9.4 grey levels off
    assert np.abs(jpeg - memory).mean() < 1.0
