"""OpenCV's own log lines kept off the terminal around a call whose failure handpose reports itself.

OpenCV writes ``[ WARN ]`` / ``[ERROR]`` lines for a camera that does not open, a video it cannot read, or an image
it cannot decode (libtiff's ``TIFF_Error`` comes through it); handpose's one-line error already says what failed,
so :func:`quiet_opencv` lowers OpenCV's log level to FATAL for the call and puts it back after. OpenCV's level is
one for the whole process: the context counts the threads inside it (a read-ahead thread decoding while the main
thread opens a video), so the first one in lowers it and the last one out restores what it was. Messages that
libraries print on C's standard error themselves (libpng's ``libpng error: ...``, FFmpeg's) do not go through
OpenCV's log and are not touched: silencing them would mean redirecting file descriptor 2 for every thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from types import ModuleType

import cv2

_LOCK = threading.Lock()
_inside = 0  # threads inside quiet_opencv now
_before = 0  # OpenCV's log level when the first of them came in


def _opencv_log() -> ModuleType:
    """Where this OpenCV keeps its log level: cv2.utils.logging in current OpenCV; OpenCV 4.8 has the two calls on
    cv2 itself and no level constants."""
    return getattr(cv2.utils, "logging", cv2)


@contextlib.contextmanager
def quiet_opencv(shown_with: logging.Logger | None = None) -> Iterator[None]:
    """OpenCV's log lines off for the ``with`` block (restored after it); left on where ``shown_with`` logs at
    DEBUG (``-vv``), so they can still be seen."""
    global _inside, _before
    if shown_with is not None and shown_with.isEnabledFor(logging.DEBUG):
        yield
        return
    log = _opencv_log()
    with _LOCK:
        if _inside == 0:
            _before = log.getLogLevel()
            log.setLogLevel(getattr(log, "LOG_LEVEL_FATAL", 1))  # 1 is cv::utils::logging::LOG_LEVEL_FATAL
        _inside += 1
    try:
        yield
    finally:
        with _LOCK:
            _inside -= 1
            if _inside == 0:
                log.setLogLevel(_before)
