"""Inference threads that follow the cores other processes leave free (``threads="auto"``, `handpose predict`'s
default).

A parallel operator ends when its slowest thread does, so a thread whose core another process holds makes every call
wait for the scheduler: beside another PyTorch run on 2 cores, the keypoint network in PyTorch took 7 times as long at
2 threads as at 1 (its slowest tenth of calls 56 times), and onnxruntime's detector 2.4 times (BENCHMARKS.md,
"Inference beside busy processes"). On a quiet machine every core is faster. So the thread count is measured while
inference runs: at most once per ``INTERVAL_S`` the share of the CPUs that other processes used since the last reading
(``autotune.contention``: ``/proc/stat`` less this process's own CPU time) says how many cores they kept busy, and
inference uses the rest, at least 1: PyTorch at most the thread count it had when "auto" first ran (so
``OMP_NUM_THREADS`` and a ``torch.set_num_threads`` before that cap it; later calls are overruled while "auto"
runs), onnxruntime at most the process's CPUs. Only the CPUs this process may run on count (its affinity: a job
pinned to some CPUs of a busy machine is not slowed by work on the others). Where ``/proc/stat`` cannot be read,
every core. In a container limited by a CPU quota (not a CPU set) ``/proc/stat`` shows the host's CPUs, so there a
fixed count (``--threads N``) is the better choice.

Threads are a resource of the process, so there is one governor per process (:func:`governor`). PyTorch follows it
through :func:`sync_torch` before each network call; onnxruntime fixes a session's threads when it is made, so an
``auto`` onnxruntime network keeps one session per thread count it meets, counts rounded down
(:func:`session_threads`: about a dozen sessions at most), made on first need.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

# imported with the thread settings that every network is made with, so a fork after that is seen (fork_guard)
from handpose.autotune.fork_guard import cap_torch_threads, torch_thread_cap

LOG = logging.getLogger(__name__)

AUTO = "auto"
INTERVAL_S = 1.0  # how often the free cores are measured again while inference runs


def usable_cores() -> frozenset[int]:
    """The CPUs this process may run on (its affinity where the system says), else all of the machine's."""
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return frozenset(range(os.cpu_count() or 1))


def others_cores(share: float, cores: int) -> int:
    """How many cores other processes kept busy, from their ``share`` of ``cores`` CPUs: rounded, half up (one
    busy process on 2 cores is a share of about 0.5, one core; a share of 0.2 is noise, none)."""
    return int(math.floor(share * cores + 0.5))


def threads_for(share: float | None, cores: int, ceiling: int) -> int:
    """The threads to run with: the cores others leave free, within [1, ``ceiling``]; ``ceiling`` where ``share``
    is unknown (None)."""
    if share is None:
        return ceiling
    return max(1, min(ceiling, cores - others_cores(share, cores)))


class FreeCores:
    """The process's thread governor (see the module docstring): :meth:`current` is how many of this process's
    ``cores`` other processes left free over the last window, at least 1."""

    def __init__(self, cores: int | None = None, interval: float = INTERVAL_S,
                 meter: Callable[[], Callable[[], float | None]] | None = None) -> None:
        from handpose.autotune.contention import start_meter

        mine = usable_cores()
        self.cores = int(cores or len(mine))
        self.interval = float(interval)
        self._start = meter or (lambda: start_meter(only=mine))  # the load on this process's own CPUs
        self._share = self._start()
        self._since = time.perf_counter()
        self.free = self.cores

    def current(self) -> int:
        """The free cores for the next call: measured again when ``interval`` has passed since the last reading
        (a reading that cannot judge its window keeps the count and the window open)."""
        if time.perf_counter() - self._since < self.interval:
            return self.free
        share = self._share()
        if share is None:
            return self.free
        free = threads_for(share, self.cores, self.cores)
        if free != self.free:
            LOG.info("threads follow the free cores, %d -> %d: other processes used %.0f%% of this "
                     "process's %d CPUs over the last %.1f s", self.free, free, 100 * share, self.cores,
                     time.perf_counter() - self._since)
            self.free = free
        self._share, self._since = self._start(), time.perf_counter()
        return self.free


_GOVERNOR: FreeCores | None = None
_TORCH_CEILING: int | None = None  # PyTorch's thread count when "auto" first set it (OMP_NUM_THREADS, set_num_threads)


def governor() -> FreeCores:
    """The process's governor, made on first use."""
    global _GOVERNOR
    if _GOVERNOR is None:
        _GOVERNOR = FreeCores()
    return _GOVERNOR


@contextlib.contextmanager
def kept_governor() -> Iterator[None]:
    """The process's governor and PyTorch's ceiling as the block found them, put back as it leaves (also on an
    exception): a training run's governor (:func:`govern_with_children`), whose meter counts the run's children as
    its own work, ends with the run instead of serving the caller's later "auto" networks."""
    global _GOVERNOR, _TORCH_CEILING
    found = _GOVERNOR, _TORCH_CEILING
    try:
        yield
    finally:
        _GOVERNOR, _TORCH_CEILING = found


def govern_with_children() -> None:
    """Make the process's governor one that counts this process's children (running or ended) as its own work: a
    training run's data-loading workers are not other processes whose cores it must leave. It takes the place of a
    governor the caller had (a Predictor's with threads="auto" counts this process alone, so it would leave the
    workers' cores to them), which the run's :func:`kept_governor` puts back as the run ends."""
    global _GOVERNOR
    from handpose.autotune.contention import start_meter

    mine = usable_cores()
    _GOVERNOR = FreeCores(meter=lambda: start_meter(with_children=True, only=mine, live_children=True))


_PROCESS_DEFAULT: int | str | None = None  # what threads=None means: a command's --threads (set_process_default)


def process_default() -> int | str | None:
    """What ``threads=None`` means now (:func:`set_process_default`)."""
    return _PROCESS_DEFAULT


def set_process_default(threads: int | str | None) -> None:
    """What ``threads=None`` means for the networks made from now on in this process: a command sets its
    ``--threads`` here (``handpose eval`` makes its predictors deep inside the evaluation); None: the runtimes'
    own defaults."""
    global _PROCESS_DEFAULT
    _PROCESS_DEFAULT = None if threads is None else check_threads(threads, "--threads")


def check_threads(threads: Any, what: str = "threads") -> int | str | None:
    """``threads`` as given to a predictor or detector: None (the process default, :func:`set_process_default`;
    unset: the runtimes' defaults), a positive int, or "auto"; ValueError naming ``what`` otherwise."""
    if threads is None:
        return _PROCESS_DEFAULT
    if threads == AUTO:
        return threads
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"{what} must be a positive whole number, 'auto' or None, got {threads!r}")
    return threads


def sync_torch(threads: int | str | None) -> None:
    """Before a PyTorch call: with ``threads="auto"`` set PyTorch's thread count to the free cores, at most its
    count when "auto" first ran (a no-op when it already is); other settings leave PyTorch's threads to the
    process. In a process forked from one that had imported it, one thread whatever the setting
    (``autotune.fork_guard``: more would wait forever)."""
    global _TORCH_CEILING
    cap_torch_threads()  # in a forked child: one thread, said once (with "auto" too)
    if threads != AUTO:
        return
    import torch

    if _TORCH_CEILING is None:
        _TORCH_CEILING = torch.get_num_threads()
    n = min(governor().current(), _TORCH_CEILING, torch_thread_cap() or _TORCH_CEILING)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def session_threads(n: int, ceiling: int) -> int:
    """The thread count of the session to run ``n`` threads on: ``ceiling`` itself; else ``n`` rounded down to a
    multiple of an eighth of ``ceiling``; below that, to a power of two (so a many-core machine keeps about a dozen
    sessions at most, not one per count, and a core of background load costs no more than an eighth)."""
    if n >= ceiling:
        return ceiling
    step = max(1, ceiling // 8)
    if n >= step:
        return n - n % step
    return 1 << (max(1, int(n)).bit_length() - 1)


class SessionsByThreads:
    """onnxruntime sessions of one file, one per thread count, made on first need; ``threads`` None or an int: one
    session with that setting, "auto": the governor's count at each call (:func:`session_threads`). ``providers``:
    the sessions' execution providers; where one is not the CPU's (CUDA runs the network), "auto" is onnxruntime's
    default, as CPU threads are not what limits it."""

    def __init__(self, make: Callable[[int | None], Any], threads: int | str | None,
                 providers: Sequence[Any] = ("CPUExecutionProvider",)) -> None:
        threads = check_threads(threads)
        if threads == AUTO and any(p != "CPUExecutionProvider" for p in providers):
            threads = None
        self.make = make
        self.threads = threads
        first = governor().cores if threads == AUTO else threads
        self._sessions: dict[int | None, Any] = {first: make(first)}
        self.first = self._sessions[first]
        self._making = threading.Lock()  # threads meeting a new count at once make its session once

    def session(self) -> Any:
        """The session to run now."""
        if self.threads != AUTO:
            return self.first
        gov = governor()
        n = session_threads(gov.current(), gov.cores)
        if n not in self._sessions:
            with self._making:
                if n not in self._sessions:
                    self._sessions[n] = self.make(n)
        return self._sessions[n]
