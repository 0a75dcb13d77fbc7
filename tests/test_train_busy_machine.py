"""A training run says when other processes used a large share of the CPUs while it trained, with the remedy."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from handpose.autotune import contention
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


def _stat(mine: int, other: int, other_busy: int) -> str:
    """``/proc/stat`` text of a host whose CPU ``mine`` stayed idle and CPU ``other`` has ``other_busy`` user ticks."""
    return (f"cpu  {other_busy} 0 0 1000 0 0 0 0 0 0\n"
            f"cpu{mine} 0 0 0 500 0 0 0 0 0 0\ncpu{other} {other_busy} 0 0 500 0 0 0 0 0 0\n")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_a_run_pinned_to_some_cpus_is_metered_on_those_alone(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Pinned to one CPU (real affinity) while a CPU outside it is busy, the run is not told that other processes
    slowed it (the meter read every CPU of the host, so a job in a cpuset was warned of others' work). The host's
    ticks are written by the test: real ones hold whatever else the machine runs on the run's own CPU."""
    mine = min(os.sched_getaffinity(0))
    other = max(os.cpu_count() or 1, mine + 1)  # a CPU outside the affinity set below
    stat = tmp_path / "stat"
    monkeypatch.setattr(contention, "STAT", stat)
    saved = os.sched_getaffinity(0)
    stat.write_text(_stat(mine, other, 0), encoding="ascii")
    try:
        os.sched_setaffinity(0, {mine})
        pinned = busy_machine.start(1)
        host = contention.start_meter(with_children=True, live_children=True)  # every CPU, as before the fix
        time.sleep(0.3)  # past contention.MIN_WINDOW_S
        stat.write_text(_stat(mine, other, 100_000), encoding="ascii")  # CPU `other` busy through the window
        pinned_share, host_share = pinned(), host()
    finally:
        os.sched_setaffinity(0, saved)
    assert host_share is not None and host_share > BUSY_SHARE  # the host's other CPU would read as busy
    assert pinned_share == 0.0  # its own CPU was idle
