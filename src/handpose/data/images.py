"""Image files: safe decoding to BGR uint8, header sizes (decompression-bomb check) and reduced JPEG decoding.

:func:`load_image` always returns a 3-channel 8-bit BGR image: grayscale, RGBA/BGRA and 16-bit files are converted
(OpenCV's ``IMREAD_COLOR``), EXIF orientation is ignored (keypoints are labelled on the stored pixel grid).
It raises :class:`ImageError` with a ``reason`` from ``skip_report`` for a missing, corrupt, truncated or too large
file (a JPEG is truncated when no end-of-image marker follows its last scan; data appended after that marker is
fine, as it is for libjpeg). Before decoding, the pixel count is read from the JPEG / PNG / BMP header and checked
against a limit, so a decompression bomb is refused without allocating it.

Reduced decoding: a JPEG can be decoded at 1/2, 1/4 or 1/8 resolution directly by libjpeg (DCT scaling), which
is several times faster for a 1920 x 1080 frame whose hand crop is much smaller. Reduced pixel ``r`` covers
original pixels ``f*r .. f*r + f - 1``, so ``x = f * r + (f - 1) / 2``; :func:`reduced_matrix` folds that into a
crop matrix so the crop stays exact.
"""

from __future__ import annotations

import logging
import re
import struct
from pathlib import Path

import cv2
import numpy as np

from handpose.data import skip_report as R

LOG = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 100_000_000  # 100 MP
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp")  # the files readers and predict take as images
_FLAGS = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
_REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
# A JPEG marker: 0xFF then a byte that is not 0x00 (a stuffed 0xFF in entropy-coded data), 0xD0-0xD7 (restart
# markers, inside a scan) or 0xFF (fill); the only bytes "0xFF, x" that entropy-coded data can hold are those.
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


class ImageError(Exception):
    """An image that cannot be used; ``reason`` is one of ``skip_report.REASONS``."""

    def __init__(self, reason: str, path: object, detail: str = "") -> None:
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))
        self.reason = reason
        self.path = path
        self.detail = detail


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first SOF marker of a JPEG, or None."""
    i, n = 2, len(data)
    while i + 9 < n:
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + length
    return None


def jpeg_complete(data: bytes) -> bool:
    """Whether a JPEG's last scan is followed by its end-of-image marker (False: the file is truncated).

    Walks the marker segments from SOI, skipping each by its length (so an EXIF thumbnail's own EOI inside APP1 is
    never taken for the image's) and each scan's entropy-coded data up to the next marker, until EOI. Bytes after
    EOI are ignored: cameras and tools append data there, and libjpeg decodes such files. A segment running past the
    end of the file, or no marker after the last scan, means a truncated file. The usual file, which ends with EOI
    (zero padding aside), is accepted without the walk (0.3 ms for a 450 kB frame): entropy-coded data cannot hold
    0xFF 0xD9, so a file cut inside a scan never ends with it.
    """
    if data[-4096:].rstrip(b"\x00").endswith(b"\xff\xd9"):
        return True
    i, n = 2, len(data)
    while True:
        m = _MARKER.search(data, i)
        if m is None:
            return False
        j = m.start()  # (0xFF, marker) at j
        marker = data[j + 1]
        if marker == 0xD9:
            return True
        if marker in (0xD8, 0x01):  # SOI, TEM: no length
            i = j + 2
            continue
        if j + 4 > n:
            return False
        i = j + 2 + struct.unpack(">H", data[j + 2 : j + 4])[0]  # past the segment (SOS: past its header)
        if i > n:
            return False


def header_size(data: bytes) -> tuple[str, int, int] | None:
    """(kind, width, height) read from a JPEG, PNG or BMP header; None for other or unparsable files."""
    if data[:2] == b"\xff\xd8":
        wh = _jpeg_size(data)
        return ("jpeg", *wh) if wh else None
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return "png", w, h
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return "bmp", abs(w), abs(h)
    return None


def read_bytes(path: Path) -> bytes:
    """The file's bytes; ImageError(MISSING_IMAGE) when it cannot be opened."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ImageError(R.MISSING_IMAGE, path, type(e).__name__) from None


def load_image(
    path: Path | str, max_pixels: int = DEFAULT_MAX_PIXELS, reduce: int = 1
) -> tuple[np.ndarray, int]:
    """Decode an image to BGR uint8 (H, W, 3); returns (image, factor) with factor in {1, 2, 4, 8}.

    ``reduce`` > 1 asks for a JPEG decoded at 1/reduce resolution (the largest power of two <= reduce that libjpeg
    offers); other formats are decoded in full and ``factor`` is 1. Raises ImageError.
    """
    path = Path(path)
    data = read_bytes(path)
    if len(data) == 0:
        raise ImageError(R.CORRUPT_IMAGE, path, "empty file")
    head = header_size(data[:65536]) or header_size(data)
    if head is not None:
        kind, w, h = head
        if w * h > max_pixels:
            raise ImageError(R.TOO_LARGE, path, f"{w} x {h} > {max_pixels} pixels")
        if kind == "jpeg" and not jpeg_complete(data):
            raise ImageError(R.CORRUPT_IMAGE, path, "truncated JPEG: no end-of-image marker after the last scan")
    else:
        kind = "other"
    factor = 1
    flags = _FLAGS
    if kind == "jpeg" and reduce >= 2:
        factor = max(f for f in _REDUCED if f <= reduce)
        flags = _REDUCED[factor] | cv2.IMREAD_IGNORE_ORIENTATION
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        img = cv2.imdecode(buf, flags)
    except cv2.error as e:
        raise ImageError(R.CORRUPT_IMAGE, path, str(e).strip().splitlines()[-1][:120]) from None
    if img is None or img.size == 0:
        raise ImageError(R.CORRUPT_IMAGE, path, "cannot be decoded")
    if head is None and img.shape[0] * img.shape[1] * factor * factor > max_pixels:
        raise ImageError(R.TOO_LARGE, path, f"{img.shape[1]} x {img.shape[0]} > {max_pixels} pixels")
    if img.dtype != np.uint8:  # IMREAD_COLOR gives 8 bits; kept as a guard
        img = cv2.convertScaleAbs(img, alpha=255.0 / max(float(img.max()), 1.0))
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return img, factor


def reduced_matrix(M: np.ndarray, factor: int) -> np.ndarray:
    """Crop matrix for an image decoded at 1/factor: M composed with reduced px -> original px."""
    if factor == 1:
        return M
    off = (factor - 1) / 2.0
    out = np.empty((2, 3), dtype=np.float64)
    out[:, :2] = M[:, :2] * factor
    out[:, 2] = M[:, :2] @ np.array([off, off]) + M[:, 2]
    return out


def reduce_factor(M: np.ndarray) -> int:
    """Largest libjpeg reduction (1, 2, 4, 8) that keeps the decoded image at least as fine as the crop."""
    zoom = float(np.sqrt(abs(np.linalg.det(M[:, :2]))))  # crop px per original px
    for f in (8, 4, 2):
        if zoom * f <= 1.0:
            return f
    return 1
