"""A speed trial during which other processes kept the CPUs busy is used for its run but not cached."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from handpose.autotune import contention
from handpose.autotune.choice import Choice, Trial, TrialKey, choose, read_cache

KEY = TrialKey("cpu", "Test CPU", "2.x", 2, "lite", 96, 16, "train")
SECONDS = {"fp32": 0.106, "fp32+cl": 0.075, "bf16": 0.066, "bf16+cl": 0.055}

STAT_BEFORE = """cpu  1000 0 200 5000 100 0 10 0 0 0
cpu0 500 0 100 2500 50 0 5 0 0 0
cpu1 500 0 100 2500 50 0 5 0 0 0
intr 12345
"""
STAT_AFTER = """cpu  1300 0 260 5100 100 0 10 40 0 0
cpu0 650 0 130 2550 50 0 5 20 0 0
cpu1 650 0 130 2550 50 0 5 20 0 0
"""


def test_stat_busy_ticks_and_cpus() -> None:
    assert contention.parse_stat(STAT_BEFORE) == (1210.0, 2)  # user + system + softirq; idle and iowait left out
    assert contention.parse_stat(STAT_AFTER) == (1610.0, 2)  # steal counts as busy
    assert contention.parse_stat("intr 1 2 3\n") is None


def test_others_share_is_the_busy_time_not_ours_over_the_capacity() -> None:
    before, after = contention.parse_stat(STAT_BEFORE), contention.parse_stat(STAT_AFTER)
    # 400 ticks = 4 CPU-seconds busy in 2.5 s on 2 CPUs (5 CPU-seconds); this process used 1.5 of them
    assert contention.others_share(before, after, own_s=1.5, wall_s=2.5, ticks_per_s=100.0) == pytest.approx(0.5)
    assert contention.others_share(before, after, own_s=4.0, wall_s=2.5, ticks_per_s=100.0) == 0.0
    assert contention.others_share(before, after, own_s=0.0, wall_s=1.0, ticks_per_s=100.0) == 1.0  # clamped


def test_an_instant_window_is_not_judged() -> None:
    assert contention.start_meter()() is None  # under MIN_WINDOW_S: too few clock ticks to say anything


class BusyMeasure:
    """Fake timings, taken while one spinning process per CPU keeps the machine busy (real processes, real load)."""

    def __init__(self, spin_s: float) -> None:
        self.spin_s = spin_s
        self.calls = 0

    def __call__(self, choices: Sequence[Choice]) -> dict[Choice, Trial]:
        self.calls += 1
        stat = contention.parse_stat(contention.STAT.read_text())
        cpus = min(stat[1] if stat else 2, 64)
        code = f"import time\nt = time.perf_counter()\nwhile time.perf_counter() - t < {self.spin_s}:\n    pass\n"
        spinners = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(cpus)]
        for p in spinners:
            p.wait(timeout=60)
        return {c: Trial(SECONDS[c.name], loss=1.0, batch=16) for c in choices}


@pytest.mark.skipif(not contention.STAT.exists(), reason="no /proc/stat on this system")
def test_a_trial_on_a_busy_machine_is_used_but_not_cached(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "autotune.json"
    measure = BusyMeasure(spin_s=1.0)
    with caplog.at_level(logging.WARNING, logger="handpose.autotune.choice"):
        assert choose(KEY, measure, path=path) == Choice("bf16", True)  # this run still takes the measured choice
    assert not path.exists() and read_cache(path) == {}
    assert "not cached" in caplog.text and "other processes used" in caplog.text
    choose(KEY, measure, path=path)
    assert measure.calls == 1  # held for this process: its later loads take it instead of timing on a busy machine
    assert not path.exists()  # a later process times again


def test_unsteady_only_above_the_busy_share(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "autotune.json"
    with caplog.at_level(logging.WARNING, logger="handpose.autotune.contention"):
        assert not contention.unsteady(None, "hand detector runtime", cache)  # unknown: cached as before
        assert not contention.unsteady(contention.BUSY_SHARE, "hand detector runtime", cache)
        assert caplog.text == ""
        assert contention.unsteady(0.5, "hand detector runtime", cache)
    assert "50% of the CPUs during the hand detector runtime trial" in caplog.text and str(cache) in caplog.text


@pytest.mark.skipif(not contention.STAT.exists(), reason="no /proc/stat on this system")
def test_a_benchmarks_own_child_processes_are_its_own_work() -> None:
    """run_all.py runs every benchmark as a child: their CPU time is the run's own, not other processes' (the run's
    record warned on every run)."""
    code = "import time\nt = time.perf_counter()\nwhile time.perf_counter() - t < 0.8:\n    pass\n"
    counted = contention.start_meter(with_children=True)
    alone = contention.start_meter()
    subprocess.run([sys.executable, "-c", code], check=True)
    with_children, without = counted(), alone()
    assert with_children is not None and without is not None
    assert with_children < without  # the child's 0.8 CPU-seconds moved from "others" to "own"
