"""The number of pages (image directories) of a TIFF or BigTIFF file's bytes, read from the chain of directory
offsets alone (no page is decoded): OpenCV's ``imdecode`` reads the first page of a multi-page TIFF and says nothing
of the others, so :func:`handpose.data.images.decode_image` counts them to say so."""

from __future__ import annotations

import struct

from handpose.data.tiff_layout import tiff_layout

MAX_PAGES = 65536  # a chain longer than this (or one that loops back) is counted up to here


def tiff_page_count(data: bytes) -> int:
    """Pages of the TIFF (``II*\\0`` / ``MM\\0*``) or BigTIFF (``II+\\0`` / ``MM\\0+``) in ``data``: the directories
    linked from the header, up to the first offset that is 0, out of the data, or seen before (at least 1 for any
    bytes, since the decoder read a first page)."""
    layout = tiff_layout(data)
    if layout is None:
        return 1
    end, offset = layout.order, layout.first
    seen: set[int] = set()
    while offset and offset not in seen and len(seen) < MAX_PAGES:
        try:
            count = struct.unpack_from(end + layout.count, data, offset)[0]
            after = offset + struct.calcsize(layout.count) + count * layout.entry
            following = struct.unpack_from(end + layout.offset, data, after)[0]
        except struct.error:  # a directory that runs past the data: the pages before it
            break
        seen.add(offset)
        offset = following
    return max(len(seen), 1)
