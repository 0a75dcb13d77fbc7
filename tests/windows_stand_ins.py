"""Stand-ins for Windows-only modules, so that the Windows branches of handpose's portable code run on Linux.

:func:`fake_msvcrt` is a ``msvcrt`` whose ``locking`` behaves as Windows' does where it matters here: a lock on a
byte range at the file position, held per process, failing at once with ``EACCES`` when another process holds it.
It is built on POSIX record locks (``fcntl.lockf``), which are per process as Windows' are per handle; a descriptor
open for reading only takes a shared record lock, which still conflicts with another process's exclusive one.
:func:`simulate_windows` makes this interpreter look like Windows to those modules (no ``fcntl``, no ``os.pread``
or ``os.pwrite``, the stand-in ``msvcrt``)."""

from __future__ import annotations

import errno
import fcntl as _fcntl  # imported before simulate_windows hides it
import os
import sys
import types

LK_UNLCK, LK_NBLCK = 0, 2  # Windows' values


def _locking(fd: int, mode: int, nbytes: int) -> None:
    start = os.lseek(fd, 0, os.SEEK_CUR)
    if mode == LK_UNLCK:
        _fcntl.lockf(fd, _fcntl.LOCK_UN, nbytes, start, os.SEEK_SET)
        return
    writable = _fcntl.fcntl(fd, _fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDONLY
    try:
        _fcntl.lockf(fd, (_fcntl.LOCK_EX if writable else _fcntl.LOCK_SH) | _fcntl.LOCK_NB, nbytes, start, os.SEEK_SET)
    except OSError:
        raise OSError(errno.EACCES, "Permission denied") from None


def fake_msvcrt() -> types.ModuleType:
    """A module with Windows' ``msvcrt.locking`` semantics (see the module docstring)."""
    module = types.ModuleType("msvcrt")
    module.LK_UNLCK, module.LK_NBLCK, module.locking = LK_UNLCK, LK_NBLCK, _locking
    return module


def simulate_windows() -> None:
    """From now on in this process: no ``fcntl`` to import, no ``os.pread`` / ``os.pwrite``, a ``msvcrt``.
    ``subprocess`` is imported first: it takes the presence of ``msvcrt`` for Windows and would look for ``_winapi``."""
    import subprocess  # noqa: F401

    sys.modules["fcntl"] = None  # type: ignore[assignment]
    sys.modules["msvcrt"] = fake_msvcrt()
    for name in ("pread", "pwrite"):
        if hasattr(os, name):
            delattr(os, name)
