"""A command whose reader goes away (``handpose predict photos/ | head -1``, a pager quit early) finishes its work.

Python ignores SIGPIPE, so the first line printed after the reader closed the pipe raised BrokenPipeError: predict
stopped after two images of a folder with "error: [Errno 32] Broken pipe", its COCO files unwritten. The files are
what the commands make; their printed lines only report them. Inside :func:`quiet_when_closed`, standard output and
error that lose their reader are pointed at the null device (the descriptor too, so the interpreter's last flush at
exit is quiet) and the command goes on; what it would have printed there is dropped.

A terminal that hangs up (its window closed, the SSH session gone) fails every later write with EIO; the command has
been asked to stop (SIGHUP) and its last lines ("stopped by SIGHUP ...") must not end it before its checkpoint or
COCO files are written. EIO counts as a gone reader only for a stream that was a terminal when the command began:
on a regular file it is a disk failure, and stays an error.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from typing import Any

# a write to a pipe whose reader has gone: EPIPE; Windows reports some as EINVAL
_GONE = (errno.EPIPE, errno.EINVAL)
# a write to a terminal that has hung up (asked once the command begins: a hung-up terminal is no longer one)
_HUNG_UP = errno.EIO


class QuietWhenClosed:
    """A text stream that, once its reader has gone, drops what is written to it (see the module docstring)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.reader_gone = False
        self._terminal = _is_terminal(stream)

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                return self._stream.write(text)
            except OSError as exc:
                self._gone(exc)
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self._stream.flush()
            except OSError as exc:
                self._gone(exc)

    def _gone(self, exc: OSError) -> None:
        """Take ``exc`` as the reader gone (else raise it) and point the stream's descriptor at the null device."""
        hung_up = self._terminal and exc.errno == _HUNG_UP
        if not isinstance(exc, BrokenPipeError) and exc.errno not in _GONE and not hung_up:
            raise exc
        self.reader_gone = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, self._stream.fileno())
            finally:
                os.close(null)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _is_terminal(stream: Any) -> bool:
    """Whether ``stream`` writes to a terminal now (False for one that cannot say)."""
    try:
        return bool(stream.isatty())
    except (OSError, ValueError, AttributeError):
        return False


@contextlib.contextmanager
def quiet_when_closed() -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` as :class:`QuietWhenClosed` streams for the block; given back after."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = QuietWhenClosed(out), QuietWhenClosed(err)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
