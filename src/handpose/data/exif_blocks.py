"""The EXIF block (a small TIFF structure, ``II``/``MM`` first) that a PNG or a WebP file carries, found by walking
the file's chunk list.

A PNG keeps it in an ``eXIf`` chunk, a WebP in an ``EXIF`` chunk of its RIFF list; either may come before or after
the pixels (Pillow writes WebP's last), and some writers put JPEG's ``Exif\\0\\0`` prefix in front of it. Browsers
and photo viewers turn such pictures by the block's orientation tag, as they turn a JPEG, so predict reads them as
they are shown (``images.exif_orientation``). Only the chunk headers are read: the walk skips over the pixel data.
"""

from __future__ import annotations

import struct

from handpose.data.png_chunks import PNG_SIGNATURE, png_chunks

_JPEG_PREFIX = b"Exif\x00\x00"


def _tiff_block(payload: bytes) -> bytes | None:
    """``payload`` as a TIFF block: without JPEG's ``Exif\\0\\0`` prefix; None when it does not start as one."""
    if payload.startswith(_JPEG_PREFIX):
        payload = payload[len(_JPEG_PREFIX):]
    return payload if payload[:2] in (b"II", b"MM") else None


def png_exif(data: bytes) -> bytes | None:
    """The TIFF block of a PNG's ``eXIf`` chunk, or None (no such chunk, or a chunk list that breaks first)."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    for at, length, kind in png_chunks(data):
        if kind == b"eXIf":
            return _tiff_block(data[at + 8: at + 8 + length])
    return None


def webp_exif(data: bytes) -> bytes | None:
    """The TIFF block of a WebP's ``EXIF`` chunk, or None (a simple WebP with no metadata, or a broken list)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    at = 12
    while at + 8 <= len(data):
        kind, length = data[at: at + 4], struct.unpack("<I", data[at + 4: at + 8])[0]
        if kind == b"EXIF":
            return _tiff_block(data[at + 8: at + 8 + length])
        at += 8 + length + (length & 1)  # a chunk's data is padded to an even length
    return None
