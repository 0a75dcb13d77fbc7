"""A PNG, WebP or TIFF cut short is named truncated, with the sizes, as a JPEG without its end-of-image marker is:
they used to get "cannot be decoded" alone (a TIFF cut before its directory, "not a JPEG, PNG, BMP, WebP or TIFF
file"), and a cut PNG also brought libpng's ``libpng error: PNG input buffer is incomplete`` onto standard error.
Bytes after a PNG's IEND or past a WebP's RIFF size still decode, as do whole TIFFs of strips or tiles."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from handpose.data import images

_NOISE = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)  # noise: several IDAT chunks


def _encoded(suffix: str) -> bytes:
    ok, buf = cv2.imencode(suffix, _NOISE)
    assert ok
    return buf.tobytes()


def _chunks(png: bytes) -> list[tuple[int, bytes, int]]:
    """(offset, type, length) of each chunk of a whole PNG."""
    out, at = [], 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at: at + 8])
        out.append((at, kind, length))
        at += 12 + length
    return out


def test_a_png_cut_inside_a_chunk_names_the_chunk_and_the_sizes(tmp_path: Path,
                                                                capfd: pytest.CaptureFixture[str]) -> None:
    png = _encoded(".png")
    at, kind, length = [c for c in _chunks(png) if c[1] == b"IDAT"][-1]
    keep = at + 100
    (tmp_path / "cut.png").write_bytes(png[:keep])
    with pytest.raises(images.ImageError, match=rf"cut\.png: corrupt or truncated image \(truncated PNG: its IDAT "
                                                rf"chunk at byte {at} runs to byte {at + 12 + length}, and the file "
                                                rf"ends at byte {keep}\)"):
        images.load_image(tmp_path / "cut.png")
    assert "libpng" not in capfd.readouterr().err


def test_a_png_cut_between_chunks_lacks_its_iend() -> None:
    png = _encoded(".png")
    iend = _chunks(png)[-1]
    assert iend[1] == b"IEND"
    with pytest.raises(images.ImageError, match=rf"truncated PNG: the file ends at byte {iend[0]} before its IEND"):
        images.decode_image(png[: iend[0]], "image bytes")


def test_a_webp_cut_short_names_its_riff_size(tmp_path: Path) -> None:
    webp = _encoded(".webp")
    (tmp_path / "cut.webp").write_bytes(webp[: len(webp) // 2])
    with pytest.raises(images.ImageError, match=rf"cut\.webp: corrupt or truncated image \(truncated WebP: its RIFF "
                                                rf"header gives {len(webp)} bytes, and the file has {len(webp) // 2}"):
        images.load_image(tmp_path / "cut.webp")


@pytest.mark.parametrize("suffix", [".png", ".webp"])
def test_whole_files_and_bytes_after_their_end_still_decode(suffix: str) -> None:
    data = _encoded(suffix)
    for name, given in (("whole", data), ("with bytes after it", data + b"\x00trailing bytes")):
        image, _ = images.decode_image(given, name)
        if suffix == ".png":
            assert np.array_equal(image, _NOISE), name  # lossless: the same pixels
        else:
            assert image.shape == _NOISE.shape, name


def test_a_tiff_cut_before_its_directory_says_where_it_lay(tmp_path: Path) -> None:
    tiff = _encoded(".tiff")  # OpenCV's libtiff writes the directory after the pixels
    directory = struct.unpack_from("<I", tiff, 4)[0]
    keep = directory - 100
    (tmp_path / "cut.tif").write_bytes(tiff[:keep])
    with pytest.raises(images.ImageError, match=rf"cut\.tif: corrupt or truncated image \(truncated TIFF: its image "
                                                rf"directory starts at byte {directory}, and the file ends at byte "
                                                rf"{keep}\)"):
        images.load_image(tmp_path / "cut.tif")


def test_a_tiff_cut_inside_its_strip_names_it(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    out = io.BytesIO()
    Image.fromarray(_NOISE).save(out, format="TIFF")  # its directory first, then one strip of 64 x 64 x 3 bytes
    tiff = out.getvalue()
    keep = len(tiff) - 1000
    (tmp_path / "cut.tif").write_bytes(tiff[:keep])
    with pytest.raises(images.ImageError, match=rf"truncated TIFF: its strip 0 of 1 runs to byte {len(tiff)}, and the "
                                                rf"file ends at byte {keep}"):
        images.load_image(tmp_path / "cut.tif")
    assert "TIFF" not in capfd.readouterr().err  # refused before libtiff reads it


@pytest.mark.parametrize("bigtiff", [False, True])
def test_tiled_tiffs_whole_and_cut(bigtiff: bool) -> None:
    tifffile = pytest.importorskip("tifffile")
    out = io.BytesIO()
    tifffile.imwrite(out, _NOISE[:, :, ::-1], tile=(32, 32), byteorder=">", bigtiff=bigtiff)  # MM: big-endian
    tiff = out.getvalue()
    assert tiff[:2] == b"MM"
    image, _ = images.decode_image(tiff, "whole")
    assert np.array_equal(image, _NOISE)
    with pytest.raises(images.ImageError, match=r"truncated TIFF: its tile \d+ of 4 runs to byte \d+, and the file "
                                                rf"ends at byte {len(tiff) - 500}"):
        images.decode_image(tiff[:-500], "cut")


def test_whole_tiffs_of_strips_still_decode() -> None:
    for compression in (None, "tiff_lzw"):
        out = io.BytesIO()
        Image.fromarray(_NOISE[:, :, ::-1]).save(out, format="TIFF", compression=compression)
        assert np.array_equal(images.decode_image(out.getvalue(), "whole")[0], _NOISE), compression
    assert np.array_equal(images.decode_image(_encoded(".tiff"), "whole")[0], _NOISE)
