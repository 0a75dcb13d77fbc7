"""Image decoding: conversions to BGR uint8, bad files, the pixel limit read from headers, exact reduced decoding."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.data import images as I
from handpose.data import skip_report as R
from handpose.data import transforms as T


def _jpeg(path: Path, w: int = 64, h: int = 48) -> Path:
    img = np.random.default_rng(0).integers(0, 255, size=(h, w, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)
    return path


@pytest.mark.parametrize("kind", ["gray_png", "gray_jpg", "rgba_png", "png16", "gray16_png", "bmp"])
def test_unusual_images_are_converted(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(1)
    if kind == "gray_png" or kind == "gray_jpg":
        img = rng.integers(0, 255, size=(30, 40), dtype=np.uint8)
    elif kind == "rgba_png":
        img = rng.integers(0, 255, size=(30, 40, 4), dtype=np.uint8)
    elif kind == "png16":
        img = rng.integers(0, 65535, size=(30, 40, 3), dtype=np.uint16)
    elif kind == "gray16_png":
        img = rng.integers(0, 65535, size=(30, 40), dtype=np.uint16)
    else:
        img = rng.integers(0, 255, size=(30, 40, 3), dtype=np.uint8)
    path = tmp_path / ("x." + kind.split("_")[-1].replace("png16", "png"))
    assert cv2.imwrite(str(path), img)
    out, factor = I.load_image(path)
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8 and factor == 1
    if kind == "png16":
        np.testing.assert_allclose(out.astype(int), (img >> 8).astype(int), atol=1)  # 16 -> 8 bits by >> 8
    if kind == "rgba_png":
        np.testing.assert_array_equal(out, img[..., :3])


def test_bad_files_raise_with_reason(tmp_path: Path) -> None:
    good = _jpeg(tmp_path / "good.jpg")
    data = good.read_bytes()
    cases = {
        "missing.jpg": (None, R.MISSING_IMAGE),
        "empty.jpg": (b"", R.CORRUPT_IMAGE),
        "noise.jpg": (np.random.default_rng(0).bytes(5000), R.CORRUPT_IMAGE),
        "truncated.jpg": (data[: len(data) // 2], R.CORRUPT_IMAGE),
        "header_only.png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, R.CORRUPT_IMAGE),
    }
    for name, (content, reason) in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(I.ImageError) as info:
            I.load_image(path)
        assert info.value.reason == reason, name
    (tmp_path / "dir.jpg").mkdir()
    with pytest.raises(I.ImageError):
        I.load_image(tmp_path / "dir.jpg")


def _png_header(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def test_decompression_bombs_refused_from_the_header(tmp_path: Path) -> None:
    png = tmp_path / "bomb.png"
    png.write_bytes(_png_header(40000, 40000) + b"\x00" * 100)  # 1.6 GP claimed, never allocated
    with pytest.raises(I.ImageError) as info:
        I.load_image(png)
    assert info.value.reason == R.TOO_LARGE and "40000 x 40000" in str(info.value)
    data = bytearray(_jpeg(tmp_path / "small.jpg", 64, 48).read_bytes())
    i = 2
    while not (data[i] == 0xFF and data[i + 1] in (0xC0, 0xC1, 0xC2)):  # find the frame header, claim 30000 x 30000
        i += 1
    data[i + 5 : i + 9] = struct.pack(">HH", 30000, 30000)
    (tmp_path / "bomb.jpg").write_bytes(bytes(data))
    assert I.header_size(bytes(data)) == ("jpeg", 30000, 30000)
    with pytest.raises(I.ImageError) as info:
        I.load_image(tmp_path / "bomb.jpg")
    assert info.value.reason == R.TOO_LARGE
    ok, _ = I.load_image(tmp_path / "small.jpg", max_pixels=64 * 48)
    with pytest.raises(I.ImageError):
        I.load_image(tmp_path / "small.jpg", max_pixels=64 * 48 - 1)  # the limit is configurable
    bmp = tmp_path / "x.bmp"
    cv2.imwrite(str(bmp), np.zeros((7, 9, 3), np.uint8))
    assert I.header_size(bmp.read_bytes()) == ("bmp", 9, 7)


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_reduced_decode_is_exact(tmp_path: Path, factor: int) -> None:
    """A crop from a 1/f decode with reduced_matrix matches the crop from the full decode (blob and pixels)."""
    h, w = 1080, 1920
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = 1203.3, 611.7
    blob = 255 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 24.0**2))
    img = np.stack([blob, 0.5 * blob, 40 + 0 * blob], axis=-1).astype(np.uint8)
    path = tmp_path / "frame.jpg"
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    M = T.crop_matrix((1190.0, 600.0), 368.0 * factor, 368, rotation_deg=20.0, flip=True)
    assert I.reduce_factor(M) == factor
    full, f1 = I.load_image(path)
    small, f = I.load_image(path, reduce=factor)
    assert f1 == 1 and f == factor and small.shape[:2] == (-(-h // factor), -(-w // factor))
    a = T.warp(full, M, 368).astype(np.float64)[..., 0]
    b = T.warp(small, I.reduced_matrix(M, factor), 368).astype(np.float64)[..., 0]

    expected = T.apply_affine(np.array([cx, cy]), M)

    def centroid(c: np.ndarray) -> np.ndarray:  # of the blob, in a window around where it should be
        x0, y0 = (expected - 40).astype(int)
        win = c[y0 : y0 + 80, x0 : x0 + 80]
        win = np.where(win > 30, win, 0)
        ys, xs = np.nonzero(win)
        return np.array([(xs * win[ys, xs]).sum(), (ys * win[ys, xs]).sum()]) / win[ys, xs].sum() + (x0, y0)

    assert np.abs(centroid(a) - expected).max() < 0.3
    assert np.abs(centroid(b) - expected).max() < 0.3  # the reduced decode lands in the same place
    assert np.abs(a - b).mean() < 2.0
    png = tmp_path / "frame.png"
    cv2.imwrite(str(png), img[:64, :64])
    assert I.load_image(png, reduce=4)[1] == 1  # only JPEGs are decoded reduced


def test_jpeg_with_data_after_its_end_is_usable_and_truncation_is_still_caught(tmp_path: Path) -> None:
    """Bytes appended after EOI (which libjpeg ignores) are fine; a file cut inside its last scan is not."""
    rng = np.random.default_rng(3)
    img = rng.integers(0, 255, size=(240, 320, 3), dtype=np.uint8)
    plain = cv2.imencode(".jpg", img)[1].tobytes()
    progressive = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()
    trailer = rng.bytes(5000).replace(b"\xff\xd9", b"\xff\x00") + b"\xff\xda\x00\x08" + rng.bytes(100)  # SOS-like
    soi, rest = plain[:2], plain[2:]
    thumb = cv2.imencode(".jpg", img[:16, :16])[1].tobytes()  # a complete JPEG (SOS ... EOI) inside APP1
    app1 = b"Exif\x00\x00" + thumb
    with_thumb = soi + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + rest
    good = {
        "appended.jpg": plain + trailer,
        "progressive_appended.jpg": progressive + trailer,
        "zero_padded.jpg": plain + b"\x00" * 8192,
        "thumbnail.jpg": with_thumb,
    }
    for name, data in good.items():
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None, name
        (tmp_path / name).write_bytes(data)
        out, _ = I.load_image(tmp_path / name)
        assert out.shape == (240, 320, 3), name
        assert I.jpeg_complete(data), name
    bad = {
        "cut_in_scan.jpg": plain[: len(plain) - 200],
        "cut_progressive.jpg": progressive[: len(progressive) * 2 // 3],
        "cut_after_thumbnail.jpg": with_thumb[: len(with_thumb) - 300],  # the thumbnail's EOI is no image end
        "cut_padded.jpg": plain[: len(plain) // 2] + b"\x00" * 100,
        "cut_in_header.jpg": plain[:40],  # before the frame header: not even a size to read
    }
    for name, data in bad.items():
        assert not I.jpeg_complete(data), name
        (tmp_path / name).write_bytes(data)
        with pytest.raises(I.ImageError) as info:
            I.load_image(tmp_path / name)
        assert info.value.reason == R.CORRUPT_IMAGE, name
        assert "truncated JPEG" in str(info.value) or name == "cut_in_header.jpg", name


def test_every_image_suffix_is_read_with_its_header_checked(tmp_path: Path) -> None:
    """Each suffix in IMAGE_SUFFIXES (also .webp and .tif, which predict takes) decodes, and its size comes from the
    header before decoding: lossy, lossless and alpha WebP, TIFF."""
    img = np.random.default_rng(4).integers(0, 255, size=(30, 40, 3), dtype=np.uint8)
    files = {f"x{s}": (img, []) for s in I.IMAGE_SUFFIXES}
    files["lossy.webp"] = (img, [cv2.IMWRITE_WEBP_QUALITY, 80])
    files["alpha.webp"] = (np.dstack([img, img[..., :1]]), [cv2.IMWRITE_WEBP_QUALITY, 80])
    kinds = set()
    for name, (pixels, params) in files.items():
        path = tmp_path / name
        assert cv2.imwrite(str(path), pixels, params), name
        kind, w, h = I.header_size(path.read_bytes())
        kinds.add((kind, path.read_bytes()[12:16] if kind == "webp" else b""))
        assert (w, h) == (40, 30), name
        out, _ = I.load_image(path, max_pixels=40 * 30)
        assert out.shape == (30, 40, 3), name
        with pytest.raises(I.ImageError) as info:
            I.load_image(path, max_pixels=40 * 30 - 1)
        assert info.value.reason == R.TOO_LARGE, name
    assert {k for k, _ in kinds} == {"jpeg", "png", "bmp", "webp", "tiff"}
    assert {c for k, c in kinds if k == "webp"} >= {b"VP8 ", b"VP8L"}  # lossy and lossless chunks both parsed


def _tiff_header(w: int, h: int, big_endian: bool = False, bigtiff: bool = False) -> bytes:
    """A TIFF (or BigTIFF) whose one directory claims w x h 8-bit RGB pixels in a strip of 16 bytes."""
    e = ">" if big_endian else "<"
    order = b"MM" if big_endian else b"II"
    tags = [(256, 4, w), (257, 4, h), (258, 3, 8), (259, 3, 1), (262, 3, 2), (273, 4, 0), (277, 3, 3),
            (278, 4, h), (279, 4, 16)]
    if bigtiff:
        head = order + struct.pack(e + "HHHQ", 43, 8, 0, 16)
        ifd = struct.pack(e + "Q", len(tags)) + b"".join(struct.pack(e + "HHQQ", t, 16 if ty == 4 else ty, 1, v)
                                                         for t, ty, v in tags)
    else:
        head = order + struct.pack(e + "HI", 42, 8)
        ifd = struct.pack(e + "H", len(tags)) + b"".join(
            struct.pack(e + "HHI", t, ty, 1) + (struct.pack(e + "HH", v, 0) if ty == 3 else struct.pack(e + "I", v))
            for t, ty, v in tags)
    return head + ifd + struct.pack(e + "Q" if bigtiff else e + "I", 0) + b"\x00" * 16


def _webp_header(chunk: bytes, w: int, h: int) -> bytes:
    """A RIFF/WEBP file of one chunk that claims w x h pixels and holds 64 bytes of nothing."""
    if chunk == b"VP8 ":
        body = b"\x10\x02\x00\x9d\x01\x2a" + struct.pack("<HH", w, h)
    elif chunk == b"VP8L":
        body = b"\x2f" + ((w - 1) | ((h - 1) << 14) | (1 << 28)).to_bytes(4, "little")
    else:
        body = b"\x00\x00\x00\x00" + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    body += b"\x00" * 64
    data = b"WEBP" + chunk + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", len(data)) + data


@pytest.mark.parametrize("kind", ["tiff", "tiff_be", "bigtiff", "webp_vp8", "webp_vp8l", "webp_vp8x"])
def test_tiff_and_webp_bombs_are_refused_from_the_header(tmp_path: Path, kind: str) -> None:
    """A small file whose header claims 12000 x 12000 (TIFF) or 16383 x 16383 (WebP) pixels is refused before any
    decoding (before, OpenCV decoded such files first: a 1.5 MB TIFF took 15 s and 6.2 GB)."""
    if kind.startswith("webp"):
        side = 16383
        data = _webp_header({"webp_vp8": b"VP8 ", "webp_vp8l": b"VP8L", "webp_vp8x": b"VP8X"}[kind], side, side)
    else:
        side = 12000
        data = _tiff_header(side, side, big_endian=kind == "tiff_be", bigtiff=kind == "bigtiff")
    path = tmp_path / ("bomb.webp" if kind.startswith("webp") else "bomb.tif")
    path.write_bytes(data)
    assert len(data) < 300 and I.header_size(data) == (kind.split("_")[0].replace("big", ""), side, side)
    with pytest.raises(I.ImageError) as info:
        I.load_image(path)
    assert info.value.reason == R.TOO_LARGE and f"{side} x {side}" in str(info.value)


def test_formats_whose_header_is_not_read_are_refused_undecoded(tmp_path: Path) -> None:
    """A PPM (or GIF, JPEG 2000, ...) named .jpg is not decoded: its header is not checked for a bomb."""
    path = tmp_path / "looks_like.jpg"
    path.write_bytes(b"P6\n4 3\n255\n" + bytes(range(36)))
    assert cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR) is not None  # OpenCV would
    with pytest.raises(I.ImageError) as info:
        I.load_image(path)
    assert info.value.reason == R.CORRUPT_IMAGE and "not a JPEG, PNG, BMP, WebP or TIFF" in str(info.value)
