"""PNG, WebP and TIFF files cut short (a copy or a download that stopped), told from their structure before decoding.

OpenCV refuses such a file with no reason ("cannot be decoded"), and its libpng prints ``libpng error: PNG input
buffer is incomplete`` on the process's standard error as it does. Each format says how long it is: a PNG is a
list of chunks, each with its length, that ends with an ``IEND`` chunk; a WebP's RIFF header gives the file's size;
a TIFF's image directory gives where each strip or tile of pixels lies and how long it is (OpenCV's libtiff prints
``TIFF_Error`` lines for a cut one, and a cut file whose directory came last has no header left to read). So
:func:`png_cut`, :func:`webp_cut` and :func:`tiff_cut` walk only those headers (not the pixels) and name the sizes, as
``images.decode_image`` names a JPEG with no end-of-image marker. Bytes after a PNG's ``IEND`` or past a WebP's
RIFF size are left alone (decoders ignore them); a chunk list that is broken rather than short (a chunk type that
is not four letters) is left to the decoder.
"""

from __future__ import annotations

import struct

from handpose.data.png_chunks import PNG_SIGNATURE, png_chunks
from handpose.data.tiff_layout import tiff_layout

_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the whole IEND chunk: length 0, type, CRC


def png_cut(data: bytes) -> str | None:
    """Why the PNG whose bytes are ``data`` is truncated (a chunk runs past the end of the file, or the chunk list
    stops before ``IEND``), or None when its chunk list is whole. The usual file, which ends with ``IEND``, is
    accepted without the walk."""
    if data.endswith(_IEND) or not data.startswith(PNG_SIGNATURE):
        return None
    n = len(data)
    for at, length, kind in png_chunks(data):
        if not kind.isalpha():  # not a chunk header: broken, not short
            return None
        end = at + 12 + length  # length, type, data, CRC
        if end > n:
            return (f"truncated PNG: its {kind.decode('ascii')} chunk at byte {at} runs to byte {end}, and the file "
                    f"ends at byte {n}")
        if kind == b"IEND":
            return None
    return f"truncated PNG: the file ends at byte {n} before its IEND chunk (the end of its chunk list)"


def webp_cut(data: bytes) -> str | None:
    """Why the WebP whose bytes are ``data`` is truncated (its RIFF header gives more bytes than the file holds), or
    None."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    size = struct.unpack("<I", data[4:8])[0] + 8  # the RIFF size counts the bytes after its own 8
    if size > len(data):
        return f"truncated WebP: its RIFF header gives {size} bytes, and the file has {len(data)}"
    return None


_TIFF_TYPES = {3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}  # SHORT, LONG, LONG8 (BigTIFF): struct code, size
_TIFF_PIECES = ((273, 279, "strip"), (324, 325, "tile"))  # (offsets tag, byte counts tag, what they hold)
_TIFF_LISTS = {273: "strip offsets", 279: "strip byte counts", 324: "tile offsets", 325: "tile byte counts"}


def tiff_cut(data: bytes) -> str | None:
    """Why the TIFF (or BigTIFF) whose bytes are ``data`` is truncated: its first image directory (the one OpenCV
    decodes) starts past the file's end, or one of its strips or tiles runs past it; None when neither, or when the
    directory is broken rather than short (left to the decoder)."""
    layout = tiff_layout(data)
    if layout is None or len(data) < 16:
        return None
    order, ifd, count_code, entry_size = layout.order, layout.first, layout.count, layout.entry
    n = len(data)
    if ifd >= n:
        return f"truncated TIFF: its image directory starts at byte {ifd}, and the file ends at byte {n}"
    try:
        count = struct.unpack_from(order + count_code, data, ifd)[0]
        first = ifd + struct.calcsize(count_code)
        values: dict[int, tuple[int, ...]] = {}
        for k in range(min(count, 4096)):
            at = first + k * entry_size
            tag, typ = struct.unpack_from(order + "HH", data, at)
            if tag not in _TIFF_LISTS or typ not in _TIFF_TYPES:
                continue
            number = struct.unpack_from(order + layout.offset, data, at + 4)[0]
            code, size = _TIFF_TYPES[typ]
            where = at + layout.value_at
            if number * size > layout.inline:  # the values lie elsewhere, at the offset the entry holds
                where = struct.unpack_from(order + layout.offset, data, where)[0]
                if where + number * size > n:
                    return (f"truncated TIFF: its {number} {_TIFF_LISTS[tag]} at byte {where} run past the file's "
                            f"end at byte {n}")
            values[tag] = struct.unpack_from(f"{order}{number}{code}", data, where)
    except struct.error:  # a directory that runs past the data
        return f"truncated TIFF: its image directory at byte {ifd} runs past the file's end at byte {n}"
    for offsets_tag, counts_tag, piece in _TIFF_PIECES:
        offsets, counts = values.get(offsets_tag, ()), values.get(counts_tag, ())
        for k, (start, length) in enumerate(zip(offsets, counts)):
            if start + length > n:
                return (f"truncated TIFF: its {piece} {k} of {len(offsets)} runs to byte {start + length}, and the "
                        f"file ends at byte {n}")
    return None
