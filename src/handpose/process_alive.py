"""Whether a process id names a running process, asked without signalling it, on POSIX and on Windows.

POSIX: ``os.kill(pid, 0)``, which delivers nothing. Windows has no such null signal: there ``os.kill(pid, 0)`` sends
a Ctrl-C event (``signal.CTRL_C_EVENT`` is 0) to the console's processes, or raises an OSError that says nothing
about ``pid``; any other signal number terminates the process. So on Windows the process is opened for a query
(``OpenProcess``) and its exit code read (``GetExitCodeProcess``: ``STILL_ACTIVE`` while it runs). The
implementation is chosen when this module is imported.
"""

from __future__ import annotations

import os

PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
ERROR_ACCESS_DENIED = 5
STILL_ACTIVE = 259


def _posix_alive(pid: int) -> bool:
    """POSIX: the null signal, which the system checks and does not deliver."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _windows_alive(pid: int) -> bool:
    """Windows: the process opened for a query and its exit code read."""
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    handle = kernel32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, int(pid))
    if not handle:  # access denied: a process another user runs; anything else (invalid parameter): none
        return ctypes.get_last_error() == ERROR_ACCESS_DENIED
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.pointer(code)):
            return True  # cannot tell: taken as running (its files are kept)
        return code.value == STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


_IMPLEMENTATION = _windows_alive if os.name == "nt" else _posix_alive


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (one that another user runs counts); nothing is sent to it."""
    return _IMPLEMENTATION(pid)
