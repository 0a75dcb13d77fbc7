"""A training run says when other processes used a large share of the CPUs while it trained, with the remedy."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import pytest

from handpose.autotune.contention import BUSY_SHARE
from handpose.training import busy_machine


def test_a_quiet_or_unknown_machine_is_recorded_without_a_word(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="handpose.training.busy_machine"):
        assert busy_machine.report(None, 100, 50.0, auto_threads=False, on_cpu=True) is None
        assert busy_machine.report(0.12345, 100, 50.0, auto_threads=False, on_cpu=True) == 0.123
        assert busy_machine.report(BUSY_SHARE, 100, 50.0, auto_threads=False, on_cpu=True) == BUSY_SHARE
    assert caplog.text == ""


@pytest.mark.parametrize("auto_threads, on_cpu, remedy", [(False, True, True), (True, True, False),
                                                          (False, False, False)])
def test_a_busy_machine_is_named_with_the_remedy_where_it_helps(auto_threads: bool, on_cpu: bool, remedy: bool,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="handpose.training.busy_machine"):
        assert busy_machine.report(0.6789, 92, 3.25, auto_threads=auto_threads, on_cpu=on_cpu) == 0.679
    assert "other processes used 68% of the CPUs while this run trained (92 steps at 3.2 examples/s)" in caplog.text
    assert ("--threads auto" in caplog.text) == remedy


def test_several_ranks_are_not_metered() -> None:
    """Under torchrun the other ranks would read as other processes: not known, rather than busy."""
    assert busy_machine.start(2)() is None


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs 2 CPUs and CPU affinity")
def test_a_run_pinned_to_some_cpus_is_metered_on_those_alone() -> None:
    """Pinned to one CPU while another process keeps a different CPU busy, the run is not told that other
    processes slowed it (the meter read every CPU of the host, so a job in a cpuset was warned of others' work)."""
    cpus = sorted(os.sched_getaffinity(0))
    mine, busy_cpu = cpus[0], cpus[1]
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                               preexec_fn=lambda: os.sched_setaffinity(0, {busy_cpu}))
    saved = os.sched_getaffinity(0)
    try:
        time.sleep(0.3)
        os.sched_setaffinity(0, {mine})
        reads = []
        for _ in range(3):  # the least of three windows: a moment of the host's own work on this CPU is not it
            meter = busy_machine.start(1)
            time.sleep(0.5)
            reads.append(meter())
    finally:
        os.sched_setaffinity(0, saved)
        spinner.kill()
        spinner.wait()
    assert None not in reads and min(reads) < BUSY_SHARE, reads
