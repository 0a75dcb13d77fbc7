"""PNG and WebP files cut short (a copy or a download that stopped), told from their structure before decoding.

OpenCV refuses such a file with no reason ("cannot be decoded"), and its libpng prints ``libpng error: PNG input
buffer is incomplete`` on the process's standard error as it does. Both formats say how long they are: a PNG is a
list of chunks, each with its length, that ends with an ``IEND`` chunk; a WebP's RIFF header gives the file's size.
So :func:`png_cut` and :func:`webp_cut` walk only those headers (not the pixels) and name the sizes, as
``images.decode_image`` names a JPEG with no end-of-image marker. Bytes after a PNG's ``IEND`` or past a WebP's
RIFF size are left alone (decoders ignore them); a chunk list that is broken rather than short (a chunk type that
is not four letters) is left to the decoder.
"""

from __future__ import annotations

import struct

from handpose.data.png_profile import PNG_SIGNATURE

_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the whole IEND chunk: length 0, type, CRC


def png_cut(data: bytes) -> str | None:
    """Why the PNG whose bytes are ``data`` is truncated (a chunk runs past the end of the file, or the chunk list
    stops before ``IEND``), or None when its chunk list is whole. The usual file, which ends with ``IEND``, is
    accepted without the walk."""
    if data.endswith(_IEND) or not data.startswith(PNG_SIGNATURE):
        return None
    at, n = len(PNG_SIGNATURE), len(data)
    while at + 8 <= n:
        length, kind = struct.unpack(">I4s", data[at: at + 8])
        if not kind.isalpha():  # not a chunk header: broken, not short
            return None
        end = at + 12 + length  # length, type, data, CRC
        if end > n:
            return (f"truncated PNG: its {kind.decode('ascii')} chunk at byte {at} runs to byte {end}, and the file "
                    f"ends at byte {n}")
        if kind == b"IEND":
            return None
        at = end
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
