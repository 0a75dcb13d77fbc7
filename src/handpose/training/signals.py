"""SIGINT / SIGTERM / SIGHUP during training (or predict): note the request, let the loop finish its step and stop
cleanly.

The first signal only sets :attr:`StopRequest.reason`; the training loop checks it after each optimizer step,
writes a checkpoint and stops (``handpose predict`` on a video: after the frame, then writes what it has). A second
SIGINT raises KeyboardInterrupt at once (for a loop that is stuck), except while :attr:`StopRequest.abortable` is
False (the caller is writing what the stop is for).
Under torchrun every process gets the signal and stops; ``say=False`` (ranks other than 0) keeps its warnings to
rank 0. Handlers are installed only in the main thread and the previous ones are restored on exit. DataLoader workers
ignore these signals (:func:`ignore_stop_signals_in_worker`): the main process ends them after its checkpoint.

SIGHUP (POSIX only) is what a run started in a terminal gets when the terminal window or the SSH session closes; its
default action killed the run, losing the steps since the last checkpoint (predict: the COCO files, the video). It
asks for the same clean stop as SIGTERM. A signal ignored when the process started stays ignored: SIGHUP under
``nohup``, SIGINT in a shell script's background job (``handpose train ... &``).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

LOG = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))


def exit_code(reason: str) -> int:
    """The exit code of a command stopped by the signal named ``reason``: 128 + its number, as a shell reports a
    process that signal ended (SIGINT 130, SIGTERM 143, SIGHUP 129)."""
    return 128 + int(signal.Signals[reason])


def _kept_ignored(sig: int) -> bool:
    """SIGHUP or SIGINT ignored when the process started: under ``nohup`` the user asked for the run to outlive its
    terminal, and a shell script's background job (``handpose train ... &``) is started with SIGINT ignored so that a
    Ctrl-C at the terminal stops only what runs in the foreground (Python then installs no KeyboardInterrupt)."""
    kept = (getattr(signal, "SIGHUP", None), signal.SIGINT)
    return sig in kept and signal.getsignal(sig) == signal.SIG_IGN


class StopRequest:
    """Context manager catching SIGINT, SIGTERM and SIGHUP; ``reason`` is the signal's name once one arrived."""

    def __init__(self, action: str = "saving a checkpoint after this step, then stopping",
                 abortable: bool = True, say: bool = True) -> None:
        self.reason: str | None = None
        self.action = action  # what the first signal leads to, for its warning
        self.abortable = abortable  # False: a second Ctrl-C waits (the files the stop is for are being written)
        self.say = say  # False: the stop is the same, its warnings are left to another process (torchrun's rank 0)
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.reason is not None:
            if signum == signal.SIGINT and self.abortable:
                raise KeyboardInterrupt
            if self.say:
                LOG.warning("%s received again: still %s", name, self.action)
            return
        self.reason = name
        if self.say:
            LOG.warning("%s received: %s (%s)", name, self.action,
                        "Ctrl-C again to abort" if self.abortable else "more signals wait for it")

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                if not _kept_ignored(sig):
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def ignore_stop_signals() -> None:
    """SIGINT, SIGTERM and SIGHUP ignored from now on in this process: for a command whose stop request was honoured and
    whose files are written, so that a second Ctrl-C pressed as it exits does not kill it mid-exit (Python ends a
    process that an uncaught KeyboardInterrupt reaches by SIGINT, after the command said it stopped cleanly)."""
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def ignore_stop_signals_in_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: workers leave SIGINT, SIGTERM and SIGHUP to the main process.

    Ctrl-C, a closed terminal, torchrun, SLURM's scancel and ``kill -- -PGID`` signal the whole process group, workers
    included; a worker killed by it would make the next batch fail ("DataLoader worker exited unexpectedly") before the
    main process could save its checkpoint. The main process stops cleanly and shuts its workers down; a main process
    that dies without doing so still ends them, since every worker exits once its parent is gone (torch's worker loop
    checks ``os.getppid()`` every few seconds).
    """
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
