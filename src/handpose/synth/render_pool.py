"""Rendering in worker processes: the tasks' results in the order they finish, and no hang when a worker dies.

``multiprocessing.Pool`` replaces a worker that dies abruptly (the system's out-of-memory killer, a crash in the GL
driver) but loses the task it held, so the render waited for that result for ever, and SIGTERM did not end the wait
either. A ``ProcessPoolExecutor`` reports the dead worker instead (``BrokenProcessPool``); the render then stops with
:class:`RenderWorkerDiedError`, saying how far it got and how to go on. Ctrl-C and SIGTERM (raised as an interrupt by
the command) stop the workers at once, as the pool's exit did: no worker writes on after its parent.

An exception a worker raises comes back to the main process. One of a kind the command line reports in one line
(ValueError, OSError, RuntimeError) goes on as it is; any other (the GL stack's ``moderngl.Error``, a bug) became a
traceback with no word of the render it stopped: it is raised as :class:`RenderWorkerError` naming the render, how
far it got and the worker's error (its traceback is shown with ``-v``).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import cv2

from handpose.user_errors import USER_ERRORS

T = TypeVar("T")
R = TypeVar("R")


def worker_init() -> None:
    """A rendering worker process: one core each, so neither OpenCV nor llvmpipe starts threads of its own."""
    os.environ["LP_NUM_THREADS"] = "1"  # read by Mesa when the GL context is made, later in this process
    cv2.setNumThreads(1)


class RenderWorkerDiedError(RuntimeError):
    """A rendering worker process died (killed, or crashed in native code) before it finished its share."""


class RenderWorkerError(RuntimeError):
    """A rendering worker raised an exception the command line has no one-line message for."""


def render_in_workers(fn: Callable[[T], R], tasks: Sequence[T], workers: int, what: str) -> Iterator[R]:
    """``fn(task)`` for every task in ``workers`` spawned processes (one core each), yielded as they finish.

    RenderWorkerDiedError naming ``what`` (the render's folder) when a worker dies, RenderWorkerError when one raises
    an error of another kind than ValueError, OSError or RuntimeError; an interrupt (Ctrl-C, SIGTERM) stops every
    worker before it goes on."""
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx, initializer=worker_init)
    done = 0
    try:
        pending: set[Future[R]] = {pool.submit(fn, t) for t in tasks}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
                done += 1
    except BrokenProcessPool as exc:
        _stop(pool)
        raise RenderWorkerDiedError(
            f"{what}: a rendering worker process died after {done} of {len(tasks)} parts were written (killed by the "
            "system, most often for lack of memory, or crashed in the graphics driver); the render is incomplete: "
            "run the same command again (fewer --workers use less memory)") from exc
    except USER_ERRORS:  # their own message to the user: passed on as they are
        _stop(pool)
        raise
    except Exception as exc:
        _stop(pool)
        detail = " ".join(str(exc).split()) or "no message"
        raise RenderWorkerError(
            f"{what}: a rendering worker failed after {done} of {len(tasks)} parts were written, with "
            f"{type(exc).__module__}.{type(exc).__name__}: {detail}; the render is incomplete (handpose synth -v shows "
            "where it failed)") from exc
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """End ``pool``'s workers now, finished or not (what ``Pool.terminate`` did)."""
    processes: dict[Any, Any] = dict(getattr(pool, "_processes", None) or {})  # before shutdown, which forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in list(processes.values()):
        if process.is_alive():
            process.terminate()
    for process in list(processes.values()):
        process.join(timeout=5)
