"""An image file's bytes as a service receives them (``bytes``, ``bytearray``, ``memoryview``, a binary file object):
read as the file on disk is (EXIF orientation, pixel limit), and one clear ValueError for bytes that are no image."""

from __future__ import annotations

import importlib.util
import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixture_types import TinyCpm

from handpose.config import DataConfig
from handpose.export import sample_crops
from handpose.inference.inputs import CHUNK_BYTES, HEAD_BYTES, byte_limit, to_bgr
from handpose.inference.predictor import Predictor


@pytest.fixture(scope="module")
def predictor(tiny_cpm: TinyCpm) -> Predictor:
    return Predictor.from_model(tiny_cpm(1), DataConfig(input_size=64))


@pytest.fixture
def jpeg(tmp_path: Path) -> Path:
    """A (90, 120) hand-like JPEG on disk."""
    path = tmp_path / "hand.jpg"
    cv2.imwrite(str(path), cv2.resize(sample_crops(96, 1, seed=4)[0], (120, 90)))
    return path


def test_bytes_and_file_objects_read_as_the_file_does(predictor: Predictor, jpeg: Path, tmp_path: Path) -> None:
    data = jpeg.read_bytes()
    expected = to_bgr(jpeg)
    with open(jpeg, "rb") as opened:
        for given in (data, bytearray(data), memoryview(data), io.BytesIO(data), opened):
            assert np.array_equal(to_bgr(given), expected), type(given).__name__
    png = tmp_path / "hand.png"
    cv2.imwrite(str(png), np.dstack([expected, np.full(expected.shape[:2], 200, np.uint8)]))  # RGBA
    assert np.array_equal(to_bgr(png.read_bytes()), expected)
    box = (20, 10, 70, 60)
    a, b = predictor.predict(jpeg, box=box), predictor.predict(data, box=box)
    assert np.array_equal(a.keypoints, b.keypoints)
    assert len(predictor.predict(io.BytesIO(data))) == 1  # no detector: the whole image is one hand


def test_jpeg_bytes_are_turned_upright_as_a_file_is(jpeg: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    exif = pil.Exif()
    exif[0x0112] = 6  # stored turned a quarter left; the tag says turn it right
    buf = io.BytesIO()
    upright = to_bgr(jpeg)
    sensor = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)
    pil.fromarray(np.ascontiguousarray(sensor[..., ::-1])).save(buf, "JPEG", quality=100, subsampling=0, exif=exif)
    read = to_bgr(buf.getvalue())
    assert read.shape == upright.shape and np.abs(read.astype(int) - upright).mean() < 3  # JPEG noise only


def test_bytes_that_are_no_image_say_what_is_wrong(jpeg: Path) -> None:
    data = jpeg.read_bytes()
    with pytest.raises(ValueError, match=r"cannot read image bytes \(\d+ B\): .*truncated JPEG"):
        to_bgr(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"image bytes \(0 B\).*empty"):
        to_bgr(b"")
    with pytest.raises(ValueError, match="not a JPEG, PNG"):
        to_bgr(b"hello, not an image")
    with pytest.raises(ValueError, match="a GIF file"):
        to_bgr(b"GIF89a" + bytes(20))
    stream = io.BytesIO(data)
    to_bgr(stream)
    with pytest.raises(ValueError, match=r"read to its end already \(file.seek\(0\)"):
        to_bgr(stream)
    with open(jpeg, encoding="latin-1") as text, pytest.raises(ValueError, match="binary mode"):
        to_bgr(text)
    ihdr = b"IHDR" + struct.pack(">II", 20000, 20000) + bytes([8, 2, 0, 0, 0])  # 400 MP, RGB: a decompression bomb
    bomb = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
    with pytest.raises(ValueError, match=r"image too large.*20000 x 20000 > 100000000 pixels"):
        to_bgr(bomb)  # refused from its header, before anything is decoded
    with pytest.raises(ValueError, match="an image file's bytes or binary file object"):
        to_bgr(12345)


class AsyncUpload:
    """An upload whose read() is a coroutine, as Starlette's (FastAPI's) UploadFile has; its .file reads."""

    def __init__(self, data: bytes) -> None:
        self.file = io.BytesIO(data)
        self.filename = "hand.jpg"

    async def read(self) -> bytes:
        return self.file.read()


def test_an_async_upload_is_refused_saying_what_to_give_and_left_unread(jpeg: Path) -> None:
    """It was called: an un-awaited coroutine, and "gave coroutine, not bytes: open the image in binary mode"."""
    upload = AsyncUpload(jpeg.read_bytes())
    with pytest.raises(ValueError, match=r"coroutine .*await upload.read\(\).*upload.file"):
        to_bgr(upload)
    assert upload.file.tell() == 0
    assert to_bgr(upload.file).shape == (90, 120, 3)


def test_a_video_capture_is_refused_without_taking_a_frame() -> None:
    """Its read() takes a frame: it was called, and the refusal said "gave tuple, not bytes: open ... binary mode"."""
    with pytest.raises(ValueError, match=r"got a cv2.VideoCapture: give its frames"):
        to_bgr(cv2.VideoCapture())


def test_predict_batch_refuses_one_image_given_alone(predictor: Predictor, jpeg: Path) -> None:
    """One image's bytes (or path) given to predict_batch was taken for a sequence of images: its bytes, one each
    ("expected an image path ..., got int" after as many checks as the file has bytes)."""
    for one in (jpeg.read_bytes(), str(jpeg), jpeg):
        with pytest.raises(ValueError, match=r"predict_batch takes a list of images, got one"):
            predictor.predict_batch(one)  # type: ignore[arg-type]
    assert len(predictor.predict_batch([jpeg.read_bytes()])) == 1


def test_a_path_like_object_with_a_read_method_is_read_as_a_path(jpeg: Path) -> None:
    """py.path.local (pytest's tmpdir) has read(), which reads text: it was taken for a file object ("gave str, not
    bytes: open the image in binary mode")."""
    py_path = pytest.importorskip("py.path")
    local = py_path.local(str(jpeg))
    np.testing.assert_array_equal(to_bgr(local), to_bgr(jpeg))


def test_predict_batch_refuses_one_array_file_object_or_pil_image_given_alone(predictor: Predictor,
                                                                             jpeg: Path) -> None:
    """An (H, W, 3) array given alone was taken for H images, its rows (H predictions of (W, 3) grey strips, no
    error); a file object or a PIL image failed in len() with a bare TypeError."""
    image = to_bgr(jpeg)
    alone: list[object] = [image, image[..., 0], io.BytesIO(jpeg.read_bytes())]
    if importlib.util.find_spec("PIL") is not None:
        from PIL import Image

        alone.append(Image.open(jpeg))
    for one in alone:
        with pytest.raises(ValueError, match=r"predict_batch takes a list of images, got one"):
            predictor.predict_batch(one)  # type: ignore[arg-type]
    assert len(predictor.predict_batch(np.stack([image, image]))) == 2  # a stack (N, H, W, 3) is many


class CountingStream(io.RawIOBase):
    """A binary stream of ``head`` then zeros without end, counting the bytes it gave (a socket or a pipe given by
    mistake)."""

    def __init__(self, head: bytes) -> None:
        self.head, self.given = head, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        n = len(buffer)
        start = self.head[self.given:self.given + n]
        buffer[:len(start)] = start
        buffer[len(start):n] = bytes(n - len(start))
        self.given += n
        return n


def test_an_endless_stream_is_refused_at_what_its_image_can_hold(jpeg: Path) -> None:
    """A stream with a 120 x 90 JPEG's header and no end: read up to 8 bytes a pixel plus 64 MiB, then refused;
    before, read() without a size took it in whole, without end."""
    stream = CountingStream(jpeg.read_bytes())
    with pytest.raises(ValueError, match="more than 64 MiB, more than an image of its size holds"):
        to_bgr(stream)
    assert stream.given <= byte_limit(jpeg.read_bytes(), "test") + CHUNK_BYTES


@pytest.mark.parametrize("head, said", [(b"GIF89a" + bytes(100), "GIF"),
                                        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 50000, 50000)
                                         + bytes(100), "too large")])
def test_a_stream_whose_header_refuses_it_is_refused_unread(head: bytes, said: str) -> None:
    """Another format, or a header over the pixel limit (a 50,000 x 50,000 PNG), is refused after the first 64 KiB,
    as the whole file would be."""
    stream = CountingStream(head)
    with pytest.raises(ValueError, match=said):
        to_bgr(stream)
    assert stream.given <= HEAD_BYTES


def test_a_large_file_object_is_read_whole(tmp_path: Path) -> None:
    """A file over the first read's 64 KiB (a noisy 640 x 480 PNG) reads as its path does."""
    noisy = (np.random.default_rng(0).random((480, 640, 3)) * 255).astype(np.uint8)
    path = tmp_path / "noisy.png"
    cv2.imwrite(str(path), noisy)
    assert path.stat().st_size > HEAD_BYTES
    with open(path, "rb") as opened:
        assert np.array_equal(to_bgr(opened), noisy)


def test_predict_batch_takes_a_1d_array_of_paths(predictor: Predictor, jpeg: Path) -> None:
    """A pandas column's ``.values`` (a 1-D object array of paths) is a batch, as it was before one image given
    alone was refused; the check took any array of up to 2 dimensions for one (H, W) grey image."""
    paths = np.array([str(jpeg), str(jpeg)], dtype=object)
    assert len(predictor.predict_batch(paths, boxes=[(0, 0, 120, 90)] * 2)) == 2
    assert len(predictor.predict_batch(np.array([str(jpeg)]), boxes=[(0, 0, 120, 90)])) == 1  # text dtype too
