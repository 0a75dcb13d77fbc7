"""Whether other processes slowed a training run on the CPU: the share of the CPUs they used while it trained.

A parallel operator ends when its slowest thread does, so beside one busy process on 2 cores every step of PyTorch's
default thread count waits for the scheduler: a demo beside a test run trained 92 steps of the about 2,700 its budget
gives on a quiet machine (BENCHMARKS.md, "Training beside a busy process"). Its examples/sec, and a time-limited run's
figures, are then not the machine's. :func:`start` meters the run (``autotune.contention``: ``/proc/stat`` less this
process's CPU time and its data workers'), and :func:`report` puts the share in the summary and warns above
``contention.BUSY_SHARE``, with the remedy. Under torchrun the other ranks are processes of the same run, not
children of this one, so a run of several processes is not metered. A run pinned to some CPUs (``taskset``, a batch
scheduler's cpuset) is metered on those alone: work on the others does not slow it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from handpose.autotune.contention import BUSY_SHARE, start_meter
from handpose.autotune.free_cores import usable_cores

LOG = logging.getLogger(__name__)


def start(world_size: int) -> Callable[[], float | None]:
    """A meter of other processes' share of the CPUs this process may run on, from now (None where it cannot tell,
    or for several ranks)."""
    if world_size > 1:
        return lambda: None
    # the data-loading workers are the run's own work; load on CPUs outside its affinity does not slow it
    return start_meter(with_children=True, only=usable_cores(), live_children=True)


def busy(share: float | None) -> bool:
    """Whether ``share`` (a meter's reading; None: not known) is large enough to say so: above ``BUSY_SHARE``."""
    return share is not None and share > BUSY_SHARE


def report(share: float | None, steps: int, rate: float, auto_threads: bool, on_cpu: bool) -> float | None:
    """Warn when other processes used more than ``BUSY_SHARE`` of the CPUs while the run trained ``steps`` at
    ``rate`` examples/sec; returns the share rounded for the summary (None: not known)."""
    if not busy(share):
        return None if share is None else round(share, 3)
    remedy = ""
    if on_cpu and not auto_threads:
        remedy = ("; beside busy processes, --threads auto trains on the cores they leave free (3x faster on 2 cores "
                  "in BENCHMARKS.md)")
    LOG.warning("other processes used %.0f%% of the CPUs while this run trained (%d steps at %.1f examples/s): its "
                "speed, and the steps a --time-limit allows, are lower than on a quiet machine%s", 100 * share,
                steps, rate, remedy)
    return round(share, 3)
