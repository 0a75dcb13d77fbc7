"""Reading input files that must be regular files: a FIFO, a device (``/dev/zero``) or a socket given where an
image, a label json or a weight file belongs would block ``open`` for ever or read without end. They are refused
with :class:`NotRegularFileError` before any byte is read; opening never blocks (``O_NONBLOCK``, then cleared)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotRegularFileError(OSError):
    """The path names a FIFO, a device, a socket or a folder, not a file's bytes."""


def open_regular(path: str | Path) -> BinaryIO:
    """``open(path, "rb")`` for a regular file (links followed); NotRegularFileError naming the kind of anything
    else, the usual OSError when it cannot be opened."""
    nonblocking = getattr(os, "O_NONBLOCK", 0)  # POSIX; elsewhere a FIFO is no concern
    fd = os.open(path, os.O_RDONLY | nonblocking | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(f"{path} is {_kind(mode)}, not a file")
        if nonblocking:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def why_not_a_file(path: str | Path) -> str:
    """Why ``path`` names no readable file, in words: it does not exist, is a folder, a symlink loop, a FIFO, a
    device or a socket ("" when it is a regular file)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "does not exist" if not path.is_symlink() else "is a link to nothing"
    except OSError as exc:
        return "is a symlink loop" if exc.errno == errno.ELOOP else f"cannot be read ({exc.strerror})"
    return "" if stat.S_ISREG(mode) else f"is {_kind(mode)}"


def _kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is that is not a regular file, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def read_regular(path: str | Path) -> bytes:
    """The bytes of a regular file (see :func:`open_regular`)."""
    with open_regular(path) as f:
        return f.read()
