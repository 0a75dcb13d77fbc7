"""How a TIFF or BigTIFF file's bytes are laid out, read from its header: byte order, where its first image
directory starts and the sizes of a directory's fields. Counting pages (``tiff_pages``) and telling a cut file
(``image_cuts``) both start here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class TiffLayout:
    """``order``: struct's byte order ("<" or ">"); ``first``: the first directory's offset; ``count``: the struct
    code of a directory's entry count; ``entry``: an entry's size; ``value_at``: where in an entry its value (or the
    offset of its values) lies; ``inline``: the bytes of values an entry holds itself; ``offset``: the struct code of
    an offset or a value count (the next directory's offset, an entry's number of values)."""

    order: str
    first: int
    count: str
    entry: int
    value_at: int
    inline: int
    offset: str


def tiff_layout(data: bytes) -> TiffLayout | None:
    """The layout of TIFF (``II*\\0`` / ``MM\\0*``) or BigTIFF (``II+\\0`` / ``MM\\0+``) bytes; None for anything
    else, or a header cut short."""
    order = "<" if data[:2] == b"II" else ">" if data[:2] == b"MM" else ""
    if not order:
        return None
    try:
        version = struct.unpack(order + "H", data[2:4])[0]
        if version == 42:
            return TiffLayout(order, struct.unpack(order + "I", data[4:8])[0], "H", 12, 8, 4, "I")
        if version == 43:
            return TiffLayout(order, struct.unpack(order + "Q", data[8:16])[0], "Q", 20, 12, 8, "Q")
    except struct.error:
        return None
    return None
