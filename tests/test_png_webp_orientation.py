"""A PNG or WebP whose EXIF block carries an orientation tag is read upright by predict, as a JPEG is and as viewers
show it (and as the same file given as a PIL image already was); dataset reading keeps the stored grid."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.data.images import exif_orientation, load_image
from handpose.inference.inputs import to_bgr

pil = pytest.importorskip("PIL.Image")

STORED = {3: cv2.ROTATE_180, 6: cv2.ROTATE_90_COUNTERCLOCKWISE, 8: cv2.ROTATE_90_CLOCKWISE}  # upright -> stored


def _upright() -> np.ndarray:
    """A 30 x 48 BGR picture no turn or mirror maps onto itself."""
    img = np.zeros((30, 48, 3), np.uint8)
    img[2:10, 3:20] = (0, 0, 255)
    img[15:28, 30:45] = (0, 255, 0)
    img[0, :, 0] = np.arange(48) * 5
    return img


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_tagged_png_or_webp_is_read_upright(tmp_path: Path, fmt: str, orientation: int) -> None:
    upright = _upright()
    sensor = cv2.rotate(upright, STORED[orientation])
    exif = pil.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"turned.{fmt.lower()}"
    options = {"lossless": True} if fmt == "WEBP" else {}
    pil.fromarray(np.ascontiguousarray(sensor[..., ::-1])).save(path, fmt, exif=exif.tobytes(), **options)
    data = path.read_bytes()
    assert exif_orientation(data) == orientation
    assert np.array_equal(load_image(path)[0], sensor)  # a dataset's labels are on the stored grid
    assert np.array_equal(to_bgr(path), upright)
    assert np.array_equal(to_bgr(data), upright)
    assert np.array_equal(to_bgr(io.BytesIO(data)), upright)
    with pil.open(path) as opened:  # the same file as a PIL image was turned already
        assert np.array_equal(to_bgr(opened), upright)


def test_untagged_and_broken_chunk_lists_read_as_stored(tmp_path: Path) -> None:
    buf = io.BytesIO()
    pil.fromarray(_upright()).save(buf, "PNG")
    plain = buf.getvalue()
    assert exif_orientation(plain) == 1
    assert exif_orientation(plain[:40]) == 1  # cut inside the chunk list
    buf = io.BytesIO()
    pil.fromarray(_upright()).save(buf, "WEBP", lossless=True)
    assert exif_orientation(buf.getvalue()) == 1
    assert exif_orientation(b"RIFF\x00\x00\x00\x00WEBPEXIF\xff\xff\xff\x7fII") == 1  # a chunk longer than the file
