"""Bad images inside a dataset: an item whose image cannot be read is replaced by another item, drawn from the
random state of the item asked for, so runs stay reproducible and no epoch stops on a bad file.

:class:`BadImages` keeps a dataset's bad images, shared by the keypoint and the detection datasets: their indexes
(never read again by that process) and their counts per reason. Each process (the main one and every DataLoader
worker) keeps its own count: it logs one warning at the first bad image of each reason and one summary when it
exits (a non-persistent worker exits at the end of each epoch)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from multiprocessing import util as mp_util
from typing import TypeVar

import numpy as np

from handpose.data.images import ImageError
from handpose.data.skip_report import SkipReport

LOG = logging.getLogger(__name__)

Item = TypeVar("Item")
MAX_REPLACEMENTS = 50  # tries to find a loadable image before giving up


def first_loadable(
    index: int,
    size: int,
    rng_of: Callable[[int, int], np.random.Generator],
    bad: set[int],
    load: Callable[[int, np.random.Generator], Item],
    record_bad: Callable[[int, ImageError], None],
    tries: int = MAX_REPLACEMENTS,
) -> Item | None:
    """``load(index, rng)``, or, while images fail (``record_bad`` is told of each), ``load(j, rng)`` for
    replacements ``j`` drawn from ``rng_of(index, attempt)``; indexes in ``bad`` are never read again. None when
    ``tries`` replacements all failed."""
    j = index
    for attempt in range(tries + 1):
        rng = rng_of(index, attempt)
        if attempt:
            j = int(rng.integers(size))  # a replacement for a bad image
        if j in bad:
            continue
        try:
            return load(j, rng)
        except ImageError as err:
            record_bad(j, err)
    return None


def _log_report(report: SkipReport, pid: int) -> None:
    report.log(f"images in process {pid}", LOG)


class BadImages:
    """A dataset's bad images in this process (see the module docstring): ``indexes`` never read again,
    ``report`` their counts per reason."""

    def __init__(self) -> None:
        self.indexes: set[int] = set()
        self.report = SkipReport()
        self._pid = os.getpid()
        self._finalizer_pid = -1

    def record(self, index: int, err: ImageError) -> None:
        """Count ``err`` for item ``index``; the first of its reason in this process is logged at once."""
        pid = os.getpid()
        if pid != self._finalizer_pid:  # first bad image in this process: summary at its exit
            if pid != self._pid:
                self.report = SkipReport()  # a worker counts its own (the parent's counts came with the copy)
            self._finalizer_pid = pid
            mp_util.Finalize(self, _log_report, args=(self.report, pid), exitpriority=10)
        self.indexes.add(index)
        first = self.report.counts[err.reason] == 0
        self.report.add(err.reason, err.path, err.detail)
        if first:
            LOG.warning("skipping bad image %s (further ones are counted; summary at exit of process %d)", err, pid)
