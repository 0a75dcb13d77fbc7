"""Whether an MP4 / MOV file lacks its index, as one cut short does: why OpenCV cannot open it, said in words.

An MP4 (and QuickTime MOV, M4V, 3GP) is a list of top-level boxes, each its size and four-letter type first: ``ftyp``,
then the frames' data (``mdat``) and the index of every frame (``moov``), which most recorders and OpenCV's writer
put last. A recording or a copy that stopped early leaves the ``mdat`` box running past the end of the file (or, from
a recorder that never went back to write its size, to the end) and no ``moov``: FFmpeg then says ``moov atom not
found`` and OpenCV opens nothing, though most of the frames are there. Only the box headers are read, one seek each,
whatever the file's size.
"""

from __future__ import annotations

import struct
from pathlib import Path

MOST_BOXES = 10_000  # a file of more top-level boxes is not walked to its end (a fragmented MP4 has thousands)


def lacks_index(path: Path) -> bool:
    """True for an ISO media file (``ftyp`` first) none of whose top-level boxes, up to the file's end or to a box
    that runs past it, is the index (``moov``), or whose index runs past the file's end. False for anything else:
    another format, a broken box list, a file that cannot be read."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            at = 0
            for _ in range(MOST_BOXES):
                if at + 8 > size:
                    return at > 0  # the end, or a box header cut in two
                f.seek(at)
                head = f.read(16)
                length, kind = struct.unpack(">I4s", head[:8])
                if at == 0 and kind != b"ftyp":
                    return False
                if length == 1:  # a 64-bit size follows the type
                    length = struct.unpack(">Q", head[8:16])[0] if len(head) == 16 else size
                elif length == 0:  # the box runs to the end of the file
                    return kind != b"moov"
                if length < 8:
                    return False  # a broken list, not a cut one
                if kind == b"moov":
                    return at + length > size  # an index cut in its middle is none
                at += length
            return False
    except OSError:
        return False
