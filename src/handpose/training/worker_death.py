"""What a training run says when one of its data-loading workers dies (killed by the system, or crashed in C code).

PyTorch's DataLoader reports it as a RuntimeError, "DataLoader worker (pid 123) is killed by signal: Killed." (or
"... exited unexpectedly"), which says nothing of the run: the step it reached, the checkpoint it can continue from,
and why a worker is most often killed (the system's out-of-memory killer, which sends SIGKILL). Images a worker
cannot read are skipped and counted inside it (``data.replacement``); this is the worker process itself gone.
"""

from __future__ import annotations

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
