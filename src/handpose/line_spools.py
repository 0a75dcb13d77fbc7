"""Hidden temporary files of JSON lines that a long-running command appends to as it goes and copies into its output
files at the end (``handpose predict``'s video record and COCO files, ``handpose synth --scenes``' label json), so
that memory stays flat however many images, frames or scenes come.

Each spool is ``.<stem>.tmp-<pid>`` in the output folder: a killed run's are removed when a later run with the same
stems starts there (``files.remove_stale_temporaries``), and a run's own however it ends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from handpose.files import NOTHING_WRITTEN, TMP_PREFIX, disk_full, full_disk, named_error, remove_stale_temporaries


class LineSpools:
    """One spool per name of ``stems`` in ``folder``; a context manager that opens them (removing earlier, killed
    runs' of the same stems) and removes them on the way out."""

    def __init__(self, folder: str | Path, stems: Sequence[str]) -> None:
        self.folder, self.stems = Path(folder), tuple(stems)
        self.paths = [self.folder / f"{TMP_PREFIX}{stem}.tmp-{os.getpid()}" for stem in self.stems]
        self.files: list[IO[str]] = []  # open while inside the with block, in the order of ``stems``
        # each spool also open for reading from the start: its lines stay readable when the output folder is removed
        # or moved while the run goes on (the open file outlives its name), and the run's files are written again
        self.readers: list[IO[str]] = []

    def __enter__(self) -> LineSpools:
        self.folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.folder, tuple(f"{stem}.tmp-" for stem in self.stems))  # killed runs'
        try:
            for path in self.paths:
                self.files.append(open(path, "w", encoding="utf-8"))
                self.readers.append(open(path, encoding="utf-8"))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.close()
        except OSError:  # the lines are thrown away: an error on the way out (a write that failed, which closing
            if exc and exc[0] is None:  # tries again) must not hide the one that ended the block
                raise
        finally:  # also when closing fails (a full disk refuses the buffered lines): they hold its space
            readers, self.readers = self.readers, []
            for reader in readers:
                reader.close()
            for path in self.paths:
                path.unlink(missing_ok=True)

    def close(self, targets: Sequence[Path] | None = None) -> None:
        """Close every spool, the later ones also when closing an earlier one fails; the first error is raised,
        named after the spool's entry of ``targets`` (the file its lines are for, as ``files.atomic_write`` names
        its files: the lines still buffered did not fit) where those are given."""
        files, self.files = self.files, []
        error: BaseException | None = None
        for i, f in enumerate(files):
            try:
                f.close()
            except OSError as exc:
                if error is None and targets is not None:
                    error = failed_for(exc, targets[i])
                    error.__cause__ = exc
                error = error or exc
            except BaseException as exc:  # noqa: BLE001 (raised below, once all are closed)
                error = error or exc
        if error is not None:
            raise error

    def write(self, which: int, line: str, target: Path) -> None:
        """Append ``line`` (and a line end) to spool ``which``; a failure (the disk is full, the file over the size
        limit) is named after ``target``, the file these lines are for."""
        try:
            self.files[which].write(line + "\n")
        except OSError as exc:
            raise failed_for(exc, target) from exc

    def lines(self, which: int) -> Iterator[str]:
        """The lines of spool ``which`` (closed first), without their line ends, read through the spool's own open
        reader (its name may be gone: the output folder removed or moved part way)."""
        reader = self.readers[which]
        reader.seek(0)
        for line in reader:
            yield line.rstrip("\n")


def failed_for(exc: OSError, target: Path) -> OSError:
    """A spool's failed write or close as an error of ``target``, the file its lines were to go into (nothing was
    written there yet): :class:`~handpose.files.DiskFullError` for a full disk, as ``files.atomic_write`` names its
    files; a spool's own name means nothing to the user."""
    if disk_full(exc):
        return full_disk(target, NOTHING_WRITTEN)
    return named_error(exc, target)

