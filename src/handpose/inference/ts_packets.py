"""Whether an MPEG transport stream (``.ts``, ``.m2ts``, ``.mts``) was cut short: the only sign its file gives.

A transport stream has no frame count and no index: FFmpeg estimates its duration (and OpenCV its frame count) from
the last timestamps in the file, so a stream cut short reports the frames it still holds, and its reading ends as a
whole stream's would. What a cut leaves is its last packet in part: a stream is a run of fixed-size packets, 188
bytes each (each opening with the sync byte 0x47), or 192 in a Blu-ray / camcorder stream (``.m2ts``, ``.mts``: a
4-byte time code first), and a muxer writes only whole ones. So a file whose size is not a whole number of its
packets was cut. A cut that falls between two packets (one in 188 of them) leaves no sign, and is not found.
"""

from __future__ import annotations

from pathlib import Path

SYNC = 0x47
PACKETS = ((188, 0), (192, 4))  # (packet size, where its sync byte lies in it)
SYNCS_CHECKED = 3  # packets whose sync byte must be in place before the file is taken as a transport stream


def ts_cut(path: Path) -> str | None:
    """Why the transport stream at ``path`` was cut short (it ends inside a packet), in words; None for a stream of
    whole packets, another format, or a file that cannot be read. Reads the first packets and the size alone."""
    try:
        with open(path, "rb") as f:
            head = f.read(SYNCS_CHECKED * 192)
            size = f.seek(0, 2)
    except OSError:
        return None
    for packet, sync_at in PACKETS:
        starts = [sync_at + k * packet for k in range(SYNCS_CHECKED)]
        if starts[-1] < len(head) and all(head[at] == SYNC for at in starts):
            if size % packet:
                return (f"the file ends inside an MPEG-TS packet ({size} bytes, not a whole number of {packet}-byte "
                        "packets): it was cut short")
            return None
    return None
