"""Child processes of the signal tests start with SIGINT and SIGHUP at their default actions, as a command typed at
a terminal does, whatever the test run inherited: under ``nohup`` SIGHUP is ignored, in a shell script's background
job SIGINT is, and handpose deliberately keeps a signal ignored at its start (``training.signals``), so a test run
started that way would see no stop at all (POSIX only: a ``preexec_fn``)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable


def from_a_terminal() -> None:
    """In the child, before it runs the command: SIGINT and SIGHUP back at their default actions."""
    for sig in (signal.SIGINT, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, signal.SIG_DFL)


def preexec() -> Callable[[], None] | None:
    """:func:`from_a_terminal` for ``subprocess.Popen(preexec_fn=...)`` on POSIX; None elsewhere."""
    return from_a_terminal if os.name == "posix" else None
