"""A PNG's chunk list read header by header: the one walk that finding a chunk (``exif_blocks``), dropping one
(``png_profile``) and telling a cut file (``image_cuts``) each need.

After its 8-byte signature a PNG is a list of chunks, each its data's length (4 bytes, big-endian), its type (4
letters), the data and a 4-byte CRC; ``IEND`` ends the list. Only the headers are read: the walk jumps over the
pixel data.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunks(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(offset, data length, type) of each chunk of the PNG bytes ``data`` (which start with its signature), in
    order, up to and with ``IEND``, or until the bytes end (a header cut in two is not given). A chunk's data may run
    past the end of ``data``: its end is ``offset + 12 + length``, which a caller that needs it checks."""
    at = len(PNG_SIGNATURE)
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at: at + 8])
        yield at, length, kind
        if kind == b"IEND":
            return
        at += 12 + length  # length, type, data, CRC
