"""Image files: safe decoding to BGR uint8, header sizes (decompression-bomb check) and reduced JPEG decoding.

:func:`load_image` always returns a 3-channel 8-bit BGR image: grayscale, RGBA/BGRA and 16-bit files are converted
(OpenCV's ``IMREAD_COLOR``). EXIF orientation is ignored by default (dataset keypoints are labelled on the stored
pixel grid); ``upright=True`` (prediction on a user's photos) reads the EXIF orientation tag of a JPEG, a PNG
or a WebP (:func:`exif_orientation`; viewers and browsers show all three turned by it) and turns the decoded
pixels upright (:func:`apply_orientation`), after the pixel-count guard (a turn keeps the pixel count). OpenCV
turns a TIFF by its orientation tag as it decodes it, in either case.
It raises :class:`ImageError` with a ``reason`` from ``skip_report`` for a missing, corrupt, truncated or too large
file (a JPEG is truncated when no end-of-image marker follows its last scan; data appended after that marker is
fine, as it is for libjpeg; a PNG when a chunk runs past the file's end or none is ``IEND``, a WebP when its RIFF
header gives more bytes than the file holds, a TIFF when its directory or a strip or tile of it lies past the end:
:mod:`~handpose.data.image_cuts`, which names the sizes);
:func:`decode_image` does the same for a file's bytes held in memory. Before decoding, the pixel count is read from
the JPEG / PNG / BMP / WebP / TIFF header (``image_headers``) and checked against a limit, so a decompression bomb
is refused without allocating it; a file whose header is none of these is refused undecoded (CORRUPT_IMAGE),
whatever its name. OpenCV's own log lines about a file it cannot decode (libtiff's
``TIFF_Error``) are kept off the terminal while it decodes (``opencv_quiet``; shown with ``-vv``): the ImageError
says what failed.

Reduced decoding: a JPEG can be decoded at 1/2, 1/4 or 1/8 resolution directly by libjpeg (DCT scaling), which
is several times faster for a 1920 x 1080 frame whose hand crop is much smaller. Reduced pixel ``r`` covers
original pixels ``f*r .. f*r + f - 1``, so ``x = f * r + (f - 1) / 2``; :func:`reduced_matrix` folds that into a
crop matrix so the crop stays exact.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import cv2
import numpy as np

from handpose.data import skip_report as R
from handpose.data.exif_blocks import png_exif, webp_exif
from handpose.data.image_cuts import png_cut, tiff_cut, webp_cut
from handpose.data.image_headers import header_size, jpeg_complete
from handpose.data.png_profile import without_icc_profile
from handpose.data.tiff_pages import tiff_page_count
from handpose.opencv_quiet import quiet_opencv
from handpose.regular_files import NotRegularFileError, open_regular, read_regular, why_not_a_file

DEFAULT_MAX_PIXELS = 100_000_000  # 100 MP
# The files readers and predict take as images: each one's header is read before decoding (image_headers).
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
# the formats whose EXIF orientation tag upright=True applies (OpenCV turns a TIFF by its own tag as it decodes it)
ORIENTED_KINDS: tuple[str, ...] = ("jpeg", "png", "webp")
_FLAGS = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
LOG = logging.getLogger(__name__)
_SAID: set[str] = set()  # the once-a-process warnings given in this process ("turned", "pages")
_REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


class ImageError(Exception):
    """An image that cannot be used; ``reason`` is one of ``skip_report``'s image reasons."""

    def __init__(self, reason: str, path: object, detail: str = "") -> None:
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))
        self.reason = reason
        self.path = path
        self.detail = detail


# image formats handpose does not decode, by their opening bytes: (offset, signature, name)
OTHER_FORMATS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"GIF87a", "GIF"), (0, b"GIF89a", "GIF"), (4, b"ftypheic", "HEIC"), (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"), (4, b"ftypavif", "AVIF"), (0, b"\xff\x0a", "JPEG XL"),
    (0, b"\x00\x00\x00\x0cJXL ", "JPEG XL"), (0, b"8BPS", "Photoshop"), (0, b"%PDF", "PDF"),
    (0, b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
)


def other_format(head: bytes) -> str | None:
    """The name of a known image format handpose does not read, from a file's first bytes, or None."""
    for offset, signature, name in OTHER_FORMATS:
        if head[offset:offset + len(signature)] == signature:
            return name
    return None


def read_bytes(path: Path) -> bytes:
    """The file's bytes; ImageError(MISSING_IMAGE) when it cannot be opened or is not a regular file (a FIFO would
    block, a device never end)."""
    try:
        return read_regular(path)
    except NotRegularFileError as e:
        raise ImageError(R.MISSING_IMAGE, path, str(e)) from None
    except OSError as e:
        raise ImageError(R.MISSING_IMAGE, path, why_not_a_file(path) or type(e).__name__) from None


def load_image(
    path: Path | str, max_pixels: int = DEFAULT_MAX_PIXELS, reduce: int = 1, upright: bool = False
) -> tuple[np.ndarray, int]:
    """Decode an image to BGR uint8 (H, W, 3); returns (image, factor) with factor in {1, 2, 4, 8}.

    ``reduce`` > 1 asks for a JPEG decoded at 1/reduce resolution (the largest power of two <= reduce that libjpeg
    offers); other formats are decoded in full and ``factor`` is 1. ``upright`` turns a JPEG, PNG or WebP as its
    EXIF orientation tag says (phone photos store the sensor's grid and the turn in the tag). Raises ImageError.
    """
    path = Path(path)
    return decode_image(read_bytes(path), path, max_pixels, reduce, upright)


def header_pixels(path: Path | str) -> int | None:
    """The pixel count an image file's header gives (its first 64 KiB are read), or None where they do not give
    one (a TIFF's directory at its end, another format, a file that is not a regular one or cannot be read)."""
    try:
        with open_regular(path) as f:
            head = header_size(f.read(65536))
    except OSError:
        return None
    return None if head is None else head[1] * head[2]


def check_header(data: bytes, source: object, max_pixels: int = DEFAULT_MAX_PIXELS,
                 whole: bool = True) -> tuple[str, int, int] | None:
    """(kind, width, height) from the header of the file whose bytes are ``data`` (``whole`` False: its first bytes
    alone, so None where the header is not among them, as a TIFF's directory at the end); ImageError for another
    format, a size over ``max_pixels``, or (``whole``) no JPEG, PNG, BMP, WebP or TIFF header."""
    head = header_size(data[:65536]) or (header_size(data) if whole else None)  # a TIFF's directory is often last
    if head is None:
        other = other_format(data[:32])
        if other is not None:
            raise ImageError(R.UNSUPPORTED_IMAGE, source,
                             f"a {other} file; handpose reads JPEG, PNG, BMP, WebP and TIFF")
        if whole:
            raise ImageError(R.CORRUPT_IMAGE, source,
                             "not a JPEG, PNG, BMP, WebP or TIFF file (or its header is broken)")
        return None
    _, w, h = head
    if w * h > max_pixels:
        raise ImageError(R.TOO_LARGE, source, f"{w} x {h} > {max_pixels} pixels")
    return head


def _say_once(what: str, message: str, *args: object) -> None:
    """``LOG.warning(message, *args)`` the first time ``what`` comes up in this process, not after."""
    if what not in _SAID:
        _SAID.add(what)
        LOG.warning(message, *args)


def decode_image(
    data: bytes, source: object, max_pixels: int = DEFAULT_MAX_PIXELS, reduce: int = 1, upright: bool = False
) -> tuple[np.ndarray, int]:
    """:func:`load_image` of a file's bytes already in memory (an upload, say); ``source`` names them in the
    ImageError (a path, or a description such as ``"image bytes"``). Returns (BGR uint8 (H, W, 3), factor)."""
    if len(data) == 0:
        raise ImageError(R.CORRUPT_IMAGE, source, "empty file")
    cut = tiff_cut(data)  # before the header is read: a TIFF cut before its directory (often last) has none left
    if cut:
        raise ImageError(R.CORRUPT_IMAGE, source, cut)
    head = check_header(data, source, max_pixels)
    assert head is not None  # the whole file: no header is an error
    kind = head[0]
    if kind == "jpeg" and not jpeg_complete(data):
        raise ImageError(R.CORRUPT_IMAGE, source, "truncated JPEG: no end-of-image marker after the last scan")
    cut = png_cut(data) if kind == "png" else webp_cut(data) if kind == "webp" else None
    if cut:  # refused before libpng prints its own "PNG input buffer is incomplete"
        raise ImageError(R.CORRUPT_IMAGE, source, cut)
    factor = 1
    flags = _FLAGS
    if kind == "jpeg" and reduce >= 2:
        factor = max(f for f in _REDUCED if f <= reduce)
        flags = _REDUCED[factor] | cv2.IMREAD_IGNORE_ORIENTATION
    if kind == "png":
        data = without_icc_profile(data)  # OpenCV 4.8's libpng warns on standard error about many PNGs' profiles
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        with quiet_opencv(LOG):  # OpenCV's own lines (libtiff's TIFF_Error) would repeat the ImageError's reason
            img = cv2.imdecode(buf, flags)
    except cv2.error as e:
        raise ImageError(R.CORRUPT_IMAGE, source, str(e).strip().splitlines()[-1][:120]) from None
    if img is None or img.size == 0:
        raise ImageError(R.CORRUPT_IMAGE, source, "cannot be decoded")
    if img.shape[0] * img.shape[1] * factor * factor > max_pixels:  # a header that understated the size
        raise ImageError(R.TOO_LARGE, source, f"{img.shape[1]} x {img.shape[0]} > {max_pixels} pixels")
    if img.dtype != np.uint8:  # IMREAD_COLOR gives 8 bits; kept as a guard
        img = cv2.convertScaleAbs(img, alpha=255.0 / max(float(img.max()), 1.0))
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if kind in ORIENTED_KINDS:
        orientation = exif_orientation(data)
        if upright:
            img = apply_orientation(img, orientation)
        elif orientation != 1:
            _say_once("turned", "%s: its EXIF orientation tag (%d) says to turn it, and dataset images are read as "
                      "stored, their labels taken on the stored pixels (as CMU's and COCO's are); if a dataset's "
                      "labels were made on the turned picture (a phone photo in a tool that shows it upright), turn "
                      "its files upright first. Said once; further such images are not named", source, orientation)
    if kind == "tiff" and "pages" not in _SAID:  # counted only until said
        pages = tiff_page_count(data)
        if pages > 1:
            _say_once("pages", "%s: a TIFF of %d pages, of which only the first is read (the others are left out); "
                      "to use another page, save it as an image of its own. Said once; further such images are not "
                      "named", source, pages)
    return img, factor


EXIF_ORIENTATION_TAG = 0x0112


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation (1..8) of a JPEG's, PNG's or WebP's bytes; 1 (as stored) when there is no valid tag.

    A JPEG's markers before the first scan are walked to the APP1 ``Exif`` segment, a PNG's or WebP's chunks to their
    EXIF chunk (:mod:`~handpose.data.exif_blocks`); then IFD0 of the TIFF block is read."""
    if not data.startswith(b"\xff\xd8"):
        block = png_exif(data) or webp_exif(data)
        return _tiff_orientation(block) if block else 1
    i, n = 2, len(data)
    while i + 4 <= n and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xDA:  # start of scan: no metadata after this
            return 1
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker == 0xE1 and data[i + 4 : i + 10] == b"Exif\x00\x00":
            return _tiff_orientation(data[i + 10 : i + 2 + length])
        i += 2 + length
    return 1


def _tiff_orientation(tiff: bytes) -> int:
    """The orientation tag of IFD0 in an EXIF TIFF block, 1 when absent or broken."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    order = "<" if tiff[:2] == b"II" else ">"
    ifd = struct.unpack(order + "I", tiff[4:8])[0]
    if ifd + 2 > len(tiff):
        return 1
    count = struct.unpack(order + "H", tiff[ifd : ifd + 2])[0]
    for k in range(count):
        at = ifd + 2 + 12 * k
        if at + 12 > len(tiff):
            break
        tag, kind = struct.unpack(order + "HH", tiff[at : at + 4])
        if tag == EXIF_ORIENTATION_TAG and kind == 3:  # SHORT
            value = struct.unpack(order + "H", tiff[at + 8 : at + 10])[0]
            return value if 1 <= value <= 8 else 1
    return 1


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """The stored pixels (H, W, C) turned upright for EXIF ``orientation`` 1..8 (5..8 give (W, H, C))."""
    if orientation == 2:
        return np.ascontiguousarray(image[:, ::-1])
    if orientation == 3:
        return cv2.rotate(image, cv2.ROTATE_180)
    if orientation == 4:
        return np.ascontiguousarray(image[::-1])
    if orientation == 5:  # transpose: mirror across the main diagonal
        return np.ascontiguousarray(image.transpose(1, 0, 2))
    if orientation == 6:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:  # transverse: mirror across the anti-diagonal
        return np.ascontiguousarray(image.transpose(1, 0, 2)[::-1, ::-1])
    if orientation == 8:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return image


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
