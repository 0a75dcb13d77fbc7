"""Inference threads that follow the cores other processes leave free (``threads="auto"``, `handpose predict`'s
default).

A parallel operator ends when its slowest thread does, so a thread whose core another process holds makes every call
wait for the scheduler: beside another PyTorch run on 2 cores, the keypoint network in PyTorch took 7 times as long at
2 threads as at 1 (its slowest tenth of calls 56 times), and onnxruntime's detector 2.4 times (BENCHMARKS.md,
"Inference beside busy processes"). On a quiet machine every core is faster. So the thread count is measured while
inference runs: at most once per ``INTERVAL_S`` the share of the CPUs that other processes used since the last reading
(``autotune.contention``: ``/proc/stat`` less this process's own CPU time) says how many cores they kept busy, and
inference uses the rest, at least 1 and at most the ceiling it started with (``torch.get_num_threads()`` when the
governor was made, so ``OMP_NUM_THREADS`` and a ``torch.set_num_threads`` before the first "auto" call cap it; later
calls to ``torch.set_num_threads`` are overruled while "auto" runs). Where ``/proc/stat`` cannot be read, the
ceiling. The measure is of the whole machine as ``/proc/stat`` shows it: in a container limited by a CPU quota it
sees the host's CPUs, so there a fixed count (``--threads N``) is the better choice.

Threads are a resource of the process, so there is one governor per process (:func:`governor`). PyTorch follows it
through :func:`sync_torch` before each network call; onnxruntime fixes a session's threads when it is made, so an
``auto`` onnxruntime network keeps one session per thread count it meets, counts rounded down to a power of two
below the ceiling (:func:`session_threads`: at most log2(cores) + 2 sessions), made on first need.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger(__name__)

AUTO = "auto"
INTERVAL_S = 1.0  # how often the free cores are measured again while inference runs


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity where the system says), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


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
    """The process's thread governor (see the module docstring)."""

    def __init__(self, ceiling: int, cores: int | None = None, interval: float = INTERVAL_S,
                 meter: Callable[[], Callable[[], float | None]] | None = None) -> None:
        from handpose.autotune.contention import start_meter

        self.ceiling = max(1, int(ceiling))
        self.cores = int(cores or usable_cores())
        self.interval = float(interval)
        self._start = meter or start_meter
        self._share = self._start()
        self._since = time.perf_counter()
        self.threads = self.ceiling

    def current(self) -> int:
        """The thread count for the next call: measured again when ``interval`` has passed since the last reading
        (a reading that cannot judge its window keeps the count and the window open)."""
        if time.perf_counter() - self._since < self.interval:
            return self.threads
        share = self._share()
        if share is None:
            return self.threads
        threads = threads_for(share, self.cores, self.ceiling)
        if threads != self.threads:
            LOG.info("inference threads %d -> %d: other processes used %.0f%% of the %d CPUs over the last %.1f s",
                     self.threads, threads, 100 * share, self.cores, time.perf_counter() - self._since)
            self.threads = threads
        self._share, self._since = self._start(), time.perf_counter()
        return self.threads


_GOVERNOR: FreeCores | None = None


def governor() -> FreeCores:
    """The process's governor, made on first use with PyTorch's thread count as its ceiling."""
    global _GOVERNOR
    if _GOVERNOR is None:
        import torch

        _GOVERNOR = FreeCores(torch.get_num_threads())
    return _GOVERNOR


def check_threads(threads: Any, what: str = "threads") -> int | str | None:
    """``threads`` as given to a predictor or detector: None (the runtimes' defaults), a positive int, or "auto";
    ValueError naming ``what`` otherwise."""
    if threads is None or threads == AUTO:
        return threads
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"{what} must be a positive whole number, 'auto' or None, got {threads!r}")
    return threads


def sync_torch(threads: int | str | None) -> None:
    """Before a PyTorch call: with ``threads="auto"`` set PyTorch's thread count to the governor's (a no-op when
    it already is); other settings leave PyTorch's threads to the process."""
    if threads != AUTO:
        return
    import torch

    n = governor().current()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def session_threads(n: int, ceiling: int) -> int:
    """The thread count of the session to run ``n`` threads on: ``ceiling`` itself, else the largest power of two
    not above ``n`` (so a many-core machine keeps a few sessions, not one per count)."""
    if n >= ceiling:
        return ceiling
    return 1 << (max(1, int(n)).bit_length() - 1)


class SessionsByThreads:
    """onnxruntime sessions of one file, one per thread count, made on first need; ``threads`` None or an int: one
    session with that setting, "auto": the governor's count at each call (:func:`session_threads`)."""

    def __init__(self, make: Callable[[int | None], Any], threads: int | str | None) -> None:
        self.make = make
        self.threads = threads
        first = governor().threads if threads == AUTO else threads
        self._sessions: dict[int | None, Any] = {first: make(first)}
        self.first = self._sessions[first]

    def session(self) -> Any:
        """The session to run now."""
        if self.threads != AUTO:
            return self.first
        gov = governor()
        n = session_threads(gov.current(), gov.ceiling)
        if n not in self._sessions:
            self._sessions[n] = self.make(n)
        return self._sessions[n]
