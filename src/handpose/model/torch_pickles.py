"""The pickles of a torch file walked by ``pickle_shape`` before ``torch.load`` unpickles them: torch's weights-only
unpickler refuses code but, as any unpickler, hashes a dict key however far its shared references expand (a key of
n nested pairs of one tuple is 2^n tuples to hash: hours at n = 40, in a few hundred bytes of checkpoint).

A zip (``torch.save``'s format since torch 1.6) holds its pickle in ``<archive>/data.pkl`` (found by torch's reader
in any case: ``DATA.PKL`` too); the legacy format is
five pickles one after another (magic number, protocol, system information, the object, the storage keys), then the
storages' raw bytes. The format is told as ``torch.load`` tells it, by the file's first bytes (a zip's local header),
not by ``zipfile.is_zipfile``, which finds a zip's end record anywhere: a legacy file with an empty zip appended
would pass as a zip here and be unpickled as a legacy file there. A zip whose ``data.pkl`` Python's ``zipfile``
lists but will not open (its local header naming another file, say) is refused: torch's reader, which does not
compare the two names, unpickles it. Files that are neither are left to ``torch.load``, which says what is wrong
with them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from handpose.model.pickle_shape import PickleShapeError, PickleUnreadableError, check_pickle_stream

LEGACY_PICKLES = 5
ZIP_START = b"PK\x03\x04"  # a zip's first local file header: what torch.load reads as its zip format


# what a damaged file raises as it is opened and read (zipfile: a member name that is not UTF-8, a local header
# naming another file)
_ZIP_DAMAGE = (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError)


class UncheckedPickleError(ValueError):
    """A torch zip's ``data.pkl`` that its directory lists but that cannot be opened to be walked."""


def check_torch_pickles(path: Path) -> None:
    """PickleShapeError (a ValueError) naming ``path`` when a pickle of the torch file would make its unpickler
    allocate or walk far more than its size, UncheckedPickleError (a ValueError) when a zip's ``data.pkl`` cannot be
    opened to be walked; nothing for a file that is no regular file or no readable pickle."""
    if not path.is_file():  # a FIFO would block here: torch_load's caller says what it is
        return
    try:
        with path.open("rb") as stream:
            zipped = stream.read(len(ZIP_START)) == ZIP_START
        if zipped:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    name = info.filename.lower()  # torch's reader finds its records by name in any case
                    if name == "data.pkl" or name.endswith("/data.pkl"):
                        try:
                            member = archive.open(info)
                        except _ZIP_DAMAGE as exc:
                            raise UncheckedPickleError(f"{path}: refused: its {info.filename} cannot be opened to be "
                                                       f"checked before loading ({type(exc).__name__}: {exc}); "
                                                       "nothing from it was read"[:300]) from None
                        with member as stream:  # streamed: a deflated member is never held whole
                            check_pickle_stream(stream, f"{path} ({info.filename})")
            return
        with path.open("rb") as stream:
            for _ in range(LEGACY_PICKLES):
                check_pickle_stream(stream, str(path))
    except PickleUnreadableError:
        return  # no pickle where one belongs: torch.load's own error names the file
    except (PickleShapeError, UncheckedPickleError):
        raise
    except _ZIP_DAMAGE:
        return  # a damaged zip (a member name that is not UTF-8, ...): torch.load's own error names the file
