"""The command's logging set-up carried into spawned worker processes.

A forked worker (Linux's default) inherits the parent's logging handlers; a spawned one (macOS and Windows, or any
``spawn`` start method) starts with none, so its warnings (a bad image skipped in a DataLoader worker) would come out
through Python's last-resort handler: bare messages, and debug output lost under ``-vv``. :func:`current` takes the
parent's level and format as a small picklable value to hand to the worker, and :func:`restore` applies it there
only where the worker has no handlers of its own, so a forked worker is left exactly as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass


@dataclass(frozen=True)
class LogSetup:
    """The root logger's level and its first handler's format (what ``cli.configure_logging`` set)."""

    level: int
    format: str | None
    datefmt: str | None


def current() -> LogSetup | None:
    """This process's logging set-up, or None when nothing was configured (a library caller's own choice)."""
    root = logging.getLogger()
    if not root.handlers:
        return None
    formatter = root.handlers[0].formatter
    return LogSetup(root.level, getattr(formatter, "_fmt", None), getattr(formatter, "datefmt", None))


def restore(setup: LogSetup | None) -> None:
    """In a worker: configure logging as ``setup`` says, unless the worker already has handlers (forked)."""
    if setup is None or logging.getLogger().handlers:
        return
    logging.basicConfig(level=setup.level, format=setup.format, datefmt=setup.datefmt)
