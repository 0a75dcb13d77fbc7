"""Crops much smaller than their box come from block averages, not an aliasing bilinear warp: exactly those of the
whole image averaged over blocks (a partial block at an edge repeating its edge pixels), and within JPEG's own error
of a JPEG decoded at the reduced size, which is how training reads its large photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.data.images import reduced_matrix
from handpose.data.resample import cut_crops
from handpose.data.transforms import crop_matrix, warp
from handpose.inference.prepare import CropSpec


def _whole_image_blocks(image: np.ndarray, mats: list[np.ndarray], sizes: list[int], f: int) -> list[np.ndarray]:
    """The reference: every block of the image averaged, then warped."""
    h, w = image.shape[:2]
    rows, cols = -(-h // f), -(-w // f)
    padded = cv2.copyMakeBorder(image, 0, rows * f - h, 0, cols * f - w, cv2.BORDER_REPLICATE)
    small = cv2.resize(padded, (cols, rows), interpolation=cv2.INTER_AREA)
    return [warp(small, reduced_matrix(M, f), s) for M, s in zip(mats, sizes)]


def test_a_far_smaller_crop_of_fine_stripes_is_their_average_grey() -> None:
    stripes = np.zeros((800, 800, 3), np.uint8)
    stripes[:, 1::2] = 255  # one-pixel columns: a bilinear warp at 1/8 reads whole columns of one colour
    M = crop_matrix((400.0, 400.0), 700.0, 88)  # 700 px -> 88 px: about 1/8
    aliased = warp(stripes, M, 88)
    averaged = cut_crops(stripes, [M], [88])[0]
    assert aliased[4:-4, 4:-4].std() > 40  # stripes of black and white beats
    assert abs(float(averaged[4:-4, 4:-4].mean()) - 127.5) < 3 and averaged[4:-4, 4:-4].std() < 3


@pytest.mark.parametrize(("hw", "centre", "side", "grey"), [
    ((960, 1280), (640.0, 480.0), 700.0, False),  # inside, sizes of whole blocks
    ((957, 1207), (1150.0, 40.0), 500.0, False),  # off the top right corner, partial blocks at the edge
    ((301, 1999), (60.0, 280.0), 900.0, True),  # a grey image, off the bottom left
])
def test_crops_equal_those_of_the_whole_image_averaged_over_blocks(hw: tuple[int, int], centre: tuple[float, float],
                                                                   side: float, grey: bool) -> None:
    rng = np.random.default_rng(int(side))
    image = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
    image = image[..., 0].copy() if grey else image  # (H, W) or (H, W, 3)
    sizes = [96, 128]  # two scales: one region serves both
    mats = [crop_matrix(centre, side, s) for s in sizes]
    f = 4 if side / 128 >= 4 else 2
    got = cut_crops(image, mats, sizes)
    for a, b in zip(got, _whole_image_blocks(image, mats, sizes, f)):
        np.testing.assert_array_equal(a, b)


def test_memory_and_reduced_jpeg_give_the_same_crop_to_the_edge(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    fine = cv2.GaussianBlur(rng.integers(0, 256, (960, 1207, 3), dtype=np.uint8), (0, 0), 1.5)  # (H, W, 3)
    fine[:, -5:] = 255  # a white strip in the last, partial block of 8
    cv2.imwrite(str(tmp_path / "photo.jpg"), fine, [cv2.IMWRITE_JPEG_QUALITY, 98])
    spec = CropSpec(input_size=96, box_padding=1.3)
    for box in ((300.0, 200.0, 600.0, 560.0), (500.0, 100.0, 707.0, 700.0)):  # at 1/4; at 1/8, past the edge
        memory = spec.prepare(fine, box).crops[0].astype(np.float64)
        jpeg = spec.prepare_file(tmp_path / "photo.jpg", box).crops[0].astype(np.float64)
        # DCT scaling and block averages agree to JPEG's own error; a warp from the full image was 9.4 grey levels
        # off, a block centre half a pixel off 0.65
        assert np.abs(jpeg - memory).mean() < 0.45
    M = spec.matrices(fine.shape[:2], box, False)[0][0]
    edge = int(M[0, 0] * (fine.shape[1] - 1) + M[0, 2])  # the crop column of the image's last one
    assert 0 < edge < 90 and memory[:, edge].mean() > 200  # the white strip, not the grey border
    assert np.abs(jpeg - memory)[:, edge].mean() < 6  # (it read 88 levels off: the block was left out)
