"""Non-blocking locks on an open file descriptor, and reads and writes at an offset, on POSIX and on Windows.

The implementation is chosen when this module is imported. Where ``fcntl`` exists (Linux, macOS) a lock is a
``flock`` on the whole file, exclusive or shared, dropped when the descriptor is closed or the process ends. On
Windows (no ``fcntl``) it is ``msvcrt.locking`` of one byte at :data:`LOCKED_BYTE`, far past the text a lock file
holds, so that text stays readable to others (Windows locks are mandatory: a locked byte cannot be read); Windows
has no shared lock, so :func:`probe` takes the exclusive one and gives it back at once.

Every lock that another process holds is reported the same way on both: :class:`BlockingIOError`.
"""

from __future__ import annotations

import errno
import os

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

LOCKED_BYTE = 1 << 30  # Windows: the byte locked (beyond any text in the file; locking past its end is allowed)
_BUSY_ERRNOS = (errno.EACCES, errno.EDEADLK)  # what msvcrt.locking raises for a byte another handle holds


def _msvcrt_lock(fd: int, take: bool) -> None:
    """Lock (``take``) or unlock :data:`LOCKED_BYTE` of ``fd`` without waiting; BlockingIOError when held."""
    import msvcrt

    where = os.lseek(fd, 0, os.SEEK_CUR)
    os.lseek(fd, LOCKED_BYTE, os.SEEK_SET)
    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK if take else msvcrt.LK_UNLCK, 1)
    except OSError as exc:
        if take and exc.errno in _BUSY_ERRNOS:
            raise BlockingIOError(exc.errno, "the file is locked by another process") from None
        raise
    finally:
        os.lseek(fd, where, os.SEEK_SET)


def lock_exclusive(fd: int) -> None:
    """Take the exclusive lock of the open file ``fd`` without waiting; BlockingIOError when another holds it.
    Closing ``fd`` (or the process ending) releases it."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        _msvcrt_lock(fd, take=True)


def probe(fd: int) -> None:
    """BlockingIOError when another process holds the exclusive lock of the file open as ``fd`` (which may be open
    for reading only); takes nothing that outlives the call once ``fd`` is closed. POSIX: a shared lock, which no
    other prober disturbs. Windows: the exclusive lock taken and given back at once."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    else:
        _msvcrt_lock(fd, take=True)
        _msvcrt_lock(fd, take=False)


def read_at(fd: int, size: int, offset: int) -> bytes:
    """Up to ``size`` bytes of ``fd`` from ``offset`` (``os.pread`` where there is one; Windows has none)."""
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)


def write_at(fd: int, data: bytes, offset: int) -> None:
    """Write ``data`` into ``fd`` at ``offset`` (``os.pwrite`` where there is one; Windows has none)."""
    if hasattr(os, "pwrite"):
        os.pwrite(fd, data, offset)
        return
    os.lseek(fd, offset, os.SEEK_SET)
    os.write(fd, data)
