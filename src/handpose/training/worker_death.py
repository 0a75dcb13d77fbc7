"""What a training run says when one of its data-loading workers dies (killed by the system, or crashed in C code).

PyTorch's DataLoader reports it as a RuntimeError, "DataLoader worker (pid 123) is killed by signal: Killed." (or
"... exited unexpectedly"), which says nothing of the run: the step it reached, the checkpoint it can continue from,
and why a worker is most often killed (the system's out-of-memory killer, which sends SIGKILL). Images a worker
cannot read are skipped and counted inside it (``data.replacement``); this is the worker process itself gone.

A worker killed while it hands a batch over can surface first as a broken connection (ConnectionResetError,
EOFError) rather than PyTorch's message: :func:`dead_worker_error` names the dead worker then, from the loader's own
processes. PyTorch's SIGCHLD handler also raises its report wherever the main process is when the worker's exit is
noticed, in the middle of the run's clean-up too: :class:`LateWorkerReports` keeps such a second report from
replacing the first error, and :func:`close_through_late_reports` lets such a report cut no file's last write short.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import TracebackType
from typing import Any

WORKER_DIED = "DataLoader worker (pid"  # how PyTorch's messages for a dead worker begin


class WorkerDiedError(RuntimeError):
    """A data-loading worker of a training run died; the message says where the run stands and how to continue."""


def worker_died(exc: BaseException, step: int, checkpoint: str | None, resume: str, workers: int,
                batch_size: int) -> WorkerDiedError | None:
    """The run's error for ``exc`` when it is PyTorch's report of a dead DataLoader worker, else None
    (``checkpoint``: the run's newest, None when it has none yet)."""
    if not isinstance(exc, RuntimeError) or WORKER_DIED not in str(exc):
        return None
    text = str(exc).rstrip(". ")
    crashed = "killed by signal" in text and "signal: Killed" not in text  # a crash (SIGSEGV, SIGBUS): no guess
    why = ("" if crashed else " A worker that dies without a word is most often killed by the system's out-of-memory "
           f"killer: fewer --workers (now {workers}) or a smaller --batch-size (now {batch_size}) use less memory.")
    where = (f"its last checkpoint is {checkpoint}; continue with: {resume}" if checkpoint is not None else
             "it wrote no checkpoint yet: start it again")
    return WorkerDiedError(f"{text}: the run stopped at step {step}; {where}.{why}")


def dead_worker_error(exc: BaseException, batches: Any) -> BaseException:
    """``exc``, or PyTorch's report of a dead worker (a RuntimeError :func:`worker_died` reads) where ``exc`` is a
    broken connection and one of the workers of ``batches`` (a DataLoader iterator; ``_workers`` is PyTorch's list of
    them, absent without workers) has ended."""
    if not isinstance(exc, (ConnectionError, EOFError)):
        return exc
    for worker in getattr(batches, "_workers", None) or []:
        code = getattr(worker, "exitcode", None)
        if code is None:
            continue
        name = signal.strsignal(-code) if -code in signal.valid_signals() else None  # as PyTorch words it
        how = f"is killed by signal: {name}" if name else "exited unexpectedly"
        return RuntimeError(f"{WORKER_DIED} {worker.pid}) {how}.")
    return exc


class LateWorkerReports:
    """Context manager for a run's clean-up after an error: a RuntimeError reporting a dead worker raised inside it
    (PyTorch's SIGCHLD handler) ends the block quietly and is kept in ``report``; any other error goes on."""

    def __init__(self) -> None:
        self.report: RuntimeError | None = None

    def __enter__(self) -> LateWorkerReports:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        if isinstance(exc, RuntimeError) and WORKER_DIED in str(exc):
            self.report = exc
            return True
        return False


def close_through_late_reports(close: Callable[[], None], tries: int = 8) -> RuntimeError | None:
    """Call ``close`` (one that can be called again after it was cut short, e.g. ``TrainWriter.close``) until it
    returns without a dead worker's report interrupting it, at most ``tries`` times (each of the loader's workers
    can send one more, as it ends); returns the first such report, or None. Other errors go on."""
    first: RuntimeError | None = None
    for _ in range(tries):
        with LateWorkerReports() as late:
            close()
        if late.report is None:
            break
        first = first or late.report
    return first
