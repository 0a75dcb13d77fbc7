"""The pickles of a torch file walked by ``pickle_shape`` before ``torch.load`` unpickles them: torch's weights-only
unpickler refuses code but, as any unpickler, hashes a dict key however far its shared references expand (a key of
n nested pairs of one tuple is 2^n tuples to hash: hours at n = 40, in a few hundred bytes of checkpoint).

A zip (``torch.save``'s format since torch 1.6) holds its pickle in ``<archive>/data.pkl``; the legacy format is
five pickles one after another (magic number, protocol, system information, the object, the storage keys), then the
storages' raw bytes. The format is told as ``torch.load`` tells it, by the file's first bytes (a zip's local header),
not by ``zipfile.is_zipfile``, which finds a zip's end record anywhere: a legacy file with an empty zip appended
would pass as a zip here and be unpickled as a legacy file there. Files that are neither are left to
``torch.load``, which says what is wrong with them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from handpose.model.pickle_shape import PickleShapeError, PickleUnreadableError, check_pickle_stream

LEGACY_PICKLES = 5
ZIP_START = b"PK\x03\x04"  # a zip's first local file header: what torch.load reads as its zip format


def check_torch_pickles(path: Path) -> None:
    """PickleShapeError (a ValueError) naming ``path`` when a pickle of the torch file would make its unpickler
    allocate or walk far more than its size; nothing for a file that is no regular file or no readable pickle."""
    if not path.is_file():  # a FIFO would block here: torch_load's caller says what it is
        return
    try:
        with path.open("rb") as stream:
            zipped = stream.read(len(ZIP_START)) == ZIP_START
        if zipped:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if info.filename == "data.pkl" or info.filename.endswith("/data.pkl"):
                        with archive.open(info) as stream:  # streamed: a deflated member is never held whole
                            check_pickle_stream(stream, f"{path} ({info.filename})")
            return
        with path.open("rb") as stream:
            for _ in range(LEGACY_PICKLES):
                check_pickle_stream(stream, str(path))
    except PickleUnreadableError:
        return  # no pickle where one belongs: torch.load's own error names the file
    except PickleShapeError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError):
        return  # a damaged zip (a member name that is not UTF-8, ...): torch.load's own error names the file
