"""Whether other processes used the CPUs while a speed trial ran.

A trial times each candidate in interleaved rounds, so steady background load slows them alike, but a machine shared
with another training run is not steady: on 2 cores beside a running trainer a trial ranked bf16 at a quarter of fp32's
speed on a CPU where, quiet, it is the fastest (BENCHMARKS.md, "Speed settings by measurement"). Such a choice is fit
for the run that measured it at most, and must not be cached for every later run. :func:`start_meter` reads the
machine's CPU time from ``/proc/stat`` and this process's own; the meter it returns gives the share of the machine's CPU
capacity that *other* processes used since (0: none, 1: every CPU all the time), or None where it cannot tell (no
``/proc/stat``, or a window too short to judge).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

LOG = logging.getLogger(__name__)

BUSY_SHARE = 0.2  # other processes above this share of the CPUs during a trial: its figures are not cached
MIN_WINDOW_S = 0.2  # a shorter trial is not judged (its few clock ticks say nothing)
STAT = Path("/proc/stat")


def _busy(fields: list[str]) -> float:
    """Busy ticks of one ``cpu`` line: every field but idle and iowait."""
    ticks = [float(v) for v in fields[1:9]]
    return sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0.0)


def parse_stat(text: str, only: frozenset[int] | None = None) -> tuple[float, int] | None:
    """(busy clock ticks of all CPUs together, number of CPUs) from ``/proc/stat``'s text, or None; with ``only``,
    of those CPUs alone (their ``cpuN`` lines: a process pinned to some CPUs is not slowed by work on the others).

    Busy is every field of the ``cpu`` line but idle and iowait (user, nice, system, irq, softirq, steal; the guest
    fields are already inside user and nice)."""
    total, cpus, mine, counted = None, 0, 0.0, 0
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "cpu" and len(fields) >= 5:
            total = _busy(fields)
        elif fields[0].startswith("cpu") and fields[0][3:].isdigit() and len(fields) >= 5:
            cpus += 1
            if only is not None and int(fields[0][3:]) in only:
                mine, counted = mine + _busy(fields), counted + 1
    if only is not None:
        return (mine, counted) if counted else None
    if total is None or cpus == 0:
        return None
    return total, cpus


def others_share(before: tuple[float, int], after: tuple[float, int], own_s: float, wall_s: float,
                 ticks_per_s: float) -> float:
    """Share of the CPUs' capacity over ``wall_s`` that processes other than this one used, from two
    :func:`parse_stat` readings and this process's CPU seconds ``own_s`` in between (clamped to [0, 1])."""
    busy_s = (after[0] - before[0]) / ticks_per_s
    capacity = wall_s * after[1]
    return min(1.0, max(0.0, (busy_s - own_s) / capacity)) if capacity > 0 else 0.0


def _read(only: frozenset[int] | None = None) -> tuple[float, int] | None:
    try:
        return parse_stat(STAT.read_text(encoding="ascii", errors="replace"), only)
    except (OSError, ValueError):
        return None


def start_meter(with_children: bool = False, only: frozenset[int] | None = None,
                live_children: bool = False) -> Callable[[], float | None]:
    """Start measuring; the returned function gives other processes' share of the CPUs since (see the module).
    ``with_children``: this process's ended children count as its own work (a benchmark's scripts and workers).
    ``only``: the share of those CPUs alone (this process's own, :func:`parse_stat`). ``live_children``: its running
    children count as its own too (a training run's data-loading workers, :func:`live_children_cpu_seconds`)."""
    before, wall0 = _read(only), time.perf_counter()
    own0 = _own_cpu_seconds(with_children, live_children)
    try:
        ticks = float(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        ticks = 100.0

    def share() -> float | None:
        after, wall = _read(only), time.perf_counter() - wall0
        if before is None or after is None or wall < MIN_WINDOW_S:
            return None
        return others_share(before, after, _own_cpu_seconds(with_children, live_children) - own0, wall, ticks)

    return share


def _own_cpu_seconds(with_children: bool, live_children: bool = False) -> float:
    """CPU seconds of this process, with ``with_children`` of its children that have ended, and with
    ``live_children`` of those running now."""
    t = os.times()
    own = t.user + t.system + ((t.children_user + t.children_system) if with_children else 0.0)
    return own + (live_children_cpu_seconds() if live_children else 0.0)


def live_children_cpu_seconds() -> float:
    """CPU seconds (user and system) of this process's running children, from ``/proc/<pid>/stat`` of the pids its
    threads list in ``/proc/self/task/*/children``; 0 where those cannot be read (not Linux). A child that ends
    leaves this sum and, once reaped, joins ``os.times()``'s children."""
    pids: set[str] = set()
    for listing in Path("/proc/self/task").glob("*/children"):
        try:
            pids.update(listing.read_text().split())
        except OSError:
            continue
    try:
        ticks = float(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        ticks = 100.0
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of the line
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def unsteady(share: float | None, what: str, cache: Path | None) -> bool:
    """Whether a trial during which other processes used ``share`` of the CPUs (a meter's reading) is too unsteady
    to cache; says so in a warning naming ``what`` was measured and the ``cache`` it stays out of."""
    if share is None or share <= BUSY_SHARE:
        return False
    kept = f"is not cached in {cache}" if cache is not None else "is not cached"
    LOG.warning("autotune: other processes used %.0f%% of the CPUs during the %s trial, so its timings are unsteady: "
                "its choice serves this run only and %s; a later run on a quieter machine measures again", 100 * share,
                what, kept)
    return True
