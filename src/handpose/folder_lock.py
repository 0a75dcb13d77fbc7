"""One writer at a time in a folder: an exclusive lock on ``<folder>/.handpose.lock``, held for the whole command.

:class:`RunLock` takes the lock without waiting (``fcntl.flock`` on Linux and macOS, ``msvcrt.locking`` on Windows:
:mod:`handpose.file_locks`) and writes the holder's PID into the file, so a second ``handpose train``, ``predict``,
``synth`` or ``eval`` into a folder another is writing is refused with that PID. The operating system drops the
lock when the process ends, however it ends, so a killed command never leaves the folder locked (a training run's
forked DataLoader workers close their inherited copies first: :func:`drop_inherited_locks`). No torch here:
``synth`` and ``predict --help`` import this without it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType

from handpose.file_locks import lock_exclusive, probe, read_at, write_at

LOCK_NAME = ".handpose.lock"
_OPEN_TRIES = 20  # opens of a lock file that its holders keep deleting (``RunLock.remove``) before giving up
_NAMELESS_WAIT_S = 1.0  # how long a lock held with no PID written (a probe, a writer about to write it) is waited for


class RunFolderBusyError(RuntimeError):
    """Another process holds the run folder's lock."""


_HELD: set[int] = set()  # descriptors of the locks this process took (a forked child inherits them)


def drop_inherited_locks() -> None:
    """In a forked child (a DataLoader worker): close its copies of the parent's run-lock descriptors. The lock
    belongs to the open file, which a child's copy keeps locked: a worker outliving a killed trainer by the few
    seconds it takes to notice would hold the folder. The parent's own descriptors stay open and locked."""
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


class RunLock:
    """An exclusive, non-blocking lock on ``<folder>/.handpose.lock``; released by :meth:`release`, at the end
    of a ``with`` block, or by the operating system when the process dies."""

    def __init__(self, folder: str | Path, what: str = "run", remove: bool = False) -> None:
        """``remove``: the lock file is deleted when the lock is released (a dataset folder keeps no trace of its
        writer; a run folder keeps its file, the place later commands look)."""
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.what = what  # what the holder writes there, for the busy message ("run", "prediction folder")
        self.remove = remove
        self._fd: int | None = None
        self._dir_fd: int | None = None  # with ``remove`` (POSIX): the folder, so its file goes even once it moved

    def acquire(self) -> RunLock:
        """Take the lock; :class:`RunFolderBusyError` naming the folder and the holder's PID when it is taken."""
        for _ in range(_OPEN_TRIES):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
            try:
                _lock_past_probes(fd)
            except BlockingIOError:
                error = self._busy(fd)
                os.close(fd)
                raise error from None
            except BaseException:
                os.close(fd)
                raise
            if _is_file_at(fd, self.path):
                break
            os.close(fd)  # its last holder deleted it (``remove``) between the open and the lock: open the new one
        else:
            raise RunFolderBusyError(f"{self.folder}: its lock file {LOCK_NAME} was deleted and made again "
                                     f"{_OPEN_TRIES} times while this process took it; try again")
        os.ftruncate(fd, 0)
        write_at(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        _HELD.add(fd)
        if self.remove:
            self._dir_fd = _open_folder(self.folder)
        return self

    def check_free(self) -> None:
        """:class:`RunFolderBusyError` when another process holds the lock; takes nothing and writes nothing (the
        folder may be read-only): a probe with a shared lock, which fails while a writer holds its exclusive one."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            return  # no lock file: no run has written here
        try:
            probe(fd)
        except BlockingIOError:
            raise self._busy(fd) from None
        finally:
            os.close(fd)  # closing drops the probe's lock too

    def _busy(self, fd: int) -> RunFolderBusyError:
        """The error naming the folder and the PID the holder wrote into the lock file ``fd``."""
        holder = read_at(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        return RunFolderBusyError(f"{self.folder} is in use: another handpose process (PID {holder}) is writing this "
                                  f"{self.what}; wait for it to end or choose another --out")

    def follow(self) -> bool:
        """Keep the lock on the folder now at this lock's path: where that is no longer the folder whose lock file
        this process holds (it was moved or removed while held, and maybe made again by another run, or its lock
        file deleted), make it if need be and take its lock, letting the old one go; True when it did, so the caller
        reads again what it knew of the folder. :class:`RunFolderBusyError` when another process holds the lock of
        the folder now there; False when the lock is not held or is still the path's."""
        if self._fd is None or self.at_path():
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        old, old_dir, self._fd, self._dir_fd = self._fd, self._dir_fd, None, None
        try:
            self.acquire()
        except BaseException as exc:
            self._fd, self._dir_fd = old, old_dir  # still the moved folder's (released at the end as before)
            if not isinstance(exc, RunFolderBusyError):
                raise
            raise RunFolderBusyError(f"{self.folder} was moved or removed while this process wrote it, and another "
                                     f"process writes the folder there now: {exc}") from None
        _HELD.discard(old)
        if not _unlink_in(old_dir, old):  # the moved folder's lock file: nobody writes there now
            try:
                os.ftruncate(old, 0)
            except OSError:
                pass
        os.close(old)
        _close(old_dir)
        return True

    def at_path(self) -> bool:
        """Whether the lock is held and its file is still the one at its path (the folder not moved or removed)."""
        return self._fd is not None and _is_file_at(self._fd, self.path)  # False: removed, or moved

    def release(self) -> None:
        """Drop the lock; the lock file stays (an unlocked file means nobody is writing) unless ``remove``. It is
        deleted from this lock's folder, wherever that has been moved, while still locked where the system allows it
        (POSIX), so whoever opened it meanwhile sees it gone
        once they hold it and opens the new one (:meth:`acquire`); on Windows after closing, where an open file
        cannot be deleted and one another process has opened stays."""
        if self._fd is None:
            return
        # the file in this lock's own folder, moved or not (never that of a folder made at the path since); without
        # a folder descriptor (Windows), the file at the path where it is still this lock's
        removed = _unlink_in(self._dir_fd, self._fd)
        ours = self.remove and self._dir_fd is None and self.at_path()
        removed = removed or (ours and _unlink(self.path))
        if not removed:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
        os.close(self._fd)  # closing the descriptor releases the lock
        _HELD.discard(self._fd)
        self._fd = None
        _close(self._dir_fd)
        self._dir_fd = None
        if ours and not removed and os.name == "nt":
            _unlink(self.path)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _lock_past_probes(fd: int) -> None:
    """Take the exclusive lock of ``fd``, waiting up to ``_NAMELESS_WAIT_S`` while its holder has written no PID:
    a :meth:`RunLock.check_free` probe holds a shared lock for an instant (a writer starting beside a ``--resume``'s
    probe failed with "PID unknown"), and a writer writes its PID just after locking. BlockingIOError when a holder
    that wrote its PID, or one that still has none after the wait, holds it."""
    deadline = time.monotonic() + _NAMELESS_WAIT_S
    while True:
        try:
            lock_exclusive(fd)
            return
        except BlockingIOError:
            if read_at(fd, 1, 0) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def _is_file_at(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is still the file at ``path`` (not deleted or replaced since it was opened)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:  # gone, or no longer reachable (a file where its folder was, a folder not readable)
        return False


def _open_folder(folder: Path) -> int | None:
    """A descriptor of ``folder`` to delete its lock file through once it has moved; None where the system has no
    ``dir_fd`` deletes (Windows) or the folder cannot be opened."""
    if os.unlink not in os.supports_dir_fd or not hasattr(os, "O_DIRECTORY"):
        return None
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None


def _unlink_in(dir_fd: int | None, fd: int) -> bool:
    """Delete the lock file in the folder ``dir_fd`` where it is still the open file ``fd``; False where it is not
    (replaced, gone, no descriptor) or cannot be deleted."""
    if dir_fd is None:
        return False
    try:
        if not os.path.samestat(os.fstat(fd), os.stat(LOCK_NAME, dir_fd=dir_fd, follow_symlinks=False)):
            return False
        os.unlink(LOCK_NAME, dir_fd=dir_fd)
    except OSError:
        return False
    return True


def _close(fd: int | None) -> None:
    """Close ``fd`` where there is one."""
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def _unlink(path: Path) -> bool:
    """Delete ``path``; False where it cannot be (on Windows, a file another process holds open)."""
    try:
        os.unlink(path)
    except OSError:
        return False
    return True
