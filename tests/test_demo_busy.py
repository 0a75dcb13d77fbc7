"""`handpose demo` beside busy processes says that they slowed its training, beside its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from handpose.autotune import contention, free_cores
from handpose.training.busy_machine import busy

SPIN = "import time\nt = time.perf_counter()\nwhile time.perf_counter() - t < 300:\n    pass\n"


def _cpu_quota() -> bool:
    """Whether a cgroup CPU quota limits this process (then /proc/stat's CPUs are the host's, not ours)."""
    try:
        return Path("/sys/fs/cgroup/cpu.max").read_text().split()[0] != "max"
    except (OSError, IndexError):
        return False


def test_busy_only_above_the_speed_trials_share() -> None:
    assert not busy(None)  # not known: nothing said
    assert not busy(contention.BUSY_SHARE)
    assert busy(0.5)


@pytest.mark.slow
def test_a_demo_beside_busy_processes_says_so(tmp_path: Path) -> None:
    """One spinning process per core (up to 16) while a tiny demo runs in a process of its own: the share they used
    is recorded in demo_summary.json and the printed summary says to rerun on a quiet machine."""
    cores = len(free_cores.usable_cores())
    if not contention.STAT.exists() or _cpu_quota() or cores > 16:
        pytest.skip("no /proc/stat, a CPU quota (its CPUs are the host's), or too many cores to keep busy")
    out = tmp_path / "demo"
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(cores)]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "handpose", "demo", "--out", str(out), "--count", "24", "--test-count", "4",
             "--size", "96", "--steps", "3", "--input-size", "64", "--pictures", "1", "--minutes", "5",
             "--workers", "1"], capture_output=True, text=True, timeout=600)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    assert done.returncode == 0, done.stderr
    share = json.loads((out / "demo_summary.json").read_text())["train_others_cpu_share"]
    assert share is not None and share > contention.BUSY_SHARE
    assert "other processes used" in done.stdout and "quiet machine" in done.stdout, done.stdout
    assert "while this run trained (3 steps at" in done.stderr
