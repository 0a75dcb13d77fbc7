"""Image sizes read from file headers, before any decoding: the decompression-bomb check of ``images.load_image``.

Every format that ``images.IMAGE_SUFFIXES`` names has its header read here: JPEG (the first frame header),
PNG (IHDR), BMP (BITMAPINFOHEADER), WebP (``VP8 ``, ``VP8L`` or ``VP8X`` chunk) and TIFF / BigTIFF (the first
image directory, the one OpenCV decodes). :func:`header_size` returns None for anything else, and such files are
refused rather than decoded: a decoder given an unknown format allocates whatever its header claims.
Also here: :func:`jpeg_complete`, the truncation check that walks a JPEG's markers.
"""

from __future__ import annotations

import re
import struct

# A JPEG marker: 0xFF then a byte that is not 0x00 (a stuffed 0xFF in entropy-coded data), 0xD0-0xD7 (restart
# markers, inside a scan) or 0xFF (fill); the only bytes "0xFF, x" that entropy-coded data can hold are those.
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_TIFF_WIDTH, _TIFF_HEIGHT = 256, 257  # ImageWidth, ImageLength tags
_TIFF_INTS = {3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}  # SHORT, LONG, LONG8 (BigTIFF): struct code, size


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


def _webp_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a RIFF/WEBP file from its first chunk: lossy ``VP8 `` (14-bit sizes after the start code
    9D 01 2A), lossless ``VP8L`` (14-bit sizes minus one after the 0x2F signature) or extended ``VP8X`` (24-bit
    canvas sizes minus one), else None."""
    if len(data) < 30:
        return None
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first image directory of a TIFF (``II*\\0`` / ``MM\\0*``) or BigTIFF (``II+\\0`` /
    ``MM\\0+``), or None when the directory or either tag is missing or out of the data."""
    end = "<" if data[:2] == b"II" else ">"
    try:
        version = struct.unpack(end + "H", data[2:4])[0]
        if version == 42:
            offset = struct.unpack(end + "I", data[4:8])[0]
            count_fmt, entry_size, value_at = "H", 12, 8
        elif version == 43:
            offset = struct.unpack(end + "Q", data[8:16])[0]
            count_fmt, entry_size, value_at = "Q", 20, 12
        else:
            return None
        count = struct.unpack_from(end + count_fmt, data, offset)[0]
        first = offset + struct.calcsize(count_fmt)
        found: dict[int, int] = {}
        for k in range(min(count, 4096)):
            at = first + k * entry_size
            tag, typ = struct.unpack_from(end + "HH", data, at)
            if tag in (_TIFF_WIDTH, _TIFF_HEIGHT) and typ in _TIFF_INTS:
                code, _ = _TIFF_INTS[typ]
                found[tag] = struct.unpack_from(end + code, data, at + value_at)[0]
            if len(found) == 2:
                return found[_TIFF_WIDTH], found[_TIFF_HEIGHT]
    except struct.error:  # a directory that runs past the data
        return None
    return None


def header_size(data: bytes) -> tuple[str, int, int] | None:
    """(kind, width, height) read from a JPEG, PNG, BMP, WebP or TIFF header; None for other or unparsable files.
    ``kind`` is one of "jpeg", "png", "bmp", "webp", "tiff"."""
    if data[:2] == b"\xff\xd8":
        wh = _jpeg_size(data)
        return ("jpeg", *wh) if wh else None
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return "png", w, h
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return "bmp", abs(w), abs(h)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        wh = _webp_size(data)
        return ("webp", *wh) if wh else None
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        wh = _tiff_size(data)
        return ("tiff", *wh) if wh else None
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
