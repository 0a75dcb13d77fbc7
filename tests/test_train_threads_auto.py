"""`handpose train --threads auto`: the training steps run on the cores other processes (and the run's own data
workers) leave free, read again each second as inference's "auto" does; beside a busy process a 2-thread step waits
for the scheduler at every parallel operator (BENCHMARKS.md, "Training beside a busy process")."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from handpose.autotune import free_cores
from handpose.autotune.free_cores import FreeCores
from handpose.cli import main

TINY = ["--preset", "tiny", "--input-size", "64", "--batch-size", "4", "--val-every", "0", "--workers", "0",
        "--device", "cpu", "--no-amp", "--no-channels-last", "--max-steps", "3"]


def _busy_meter() -> Callable[[], float | None]:
    """A reading of other processes holding half of 2 CPUs (one core) in every window."""
    return lambda: 0.5


def test_auto_threads_follow_the_free_cores_while_training(synth_data: Path, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from handpose.training import trainer

    def busy_governor() -> None:  # the run's governor (govern_with_children), reading one core busy
        free_cores._GOVERNOR = FreeCores(cores=2, interval=0.0, meter=_busy_meter)

    monkeypatch.setattr(trainer, "govern_with_children", busy_governor)
    free_cores._TORCH_CEILING = 2  # as on a 2-core machine, whatever this test process runs on
    out = tmp_path / "run"
    before = torch.get_num_threads()
    with caplog.at_level(logging.INFO, logger="handpose.autotune.free_cores"):
        assert main(["train", "--data", str(synth_data), "--out", str(out), *TINY, "--threads", "auto"]) == 0
    assert "threads follow the free cores, 2 -> 1" in caplog.text  # set by the steps
    assert torch.get_num_threads() == before  # and given back as the run ended (training.process_state)
    assert json.loads((out / "config.json").read_text())["threads"] == "auto"


@pytest.mark.parametrize("value, said", [("0", "at least 1 thread"), ("two", "expected 'auto' or a whole number")])
def test_other_thread_values_are_refused_by_the_flag(value: str, said: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--out", str(tmp_path / "r"), "--threads", value])
    assert said in capsys.readouterr().err


def test_running_children_cpu_time_is_read(tmp_path: Path) -> None:
    """A child that has spun 0.5 CPU seconds and still runs is counted (training's data workers are such children)."""
    import subprocess
    import sys

    from handpose.autotune.contention import live_children_cpu_seconds

    spin = ("import sys, time\nwhile time.process_time() < 0.5:\n    pass\nprint('spun', flush=True)\n"
            "sys.stdin.read()\n")
    before = live_children_cpu_seconds()
    child = subprocess.Popen([sys.executable, "-c", spin], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "spun"
        assert live_children_cpu_seconds() - before >= 0.45
    finally:
        child.communicate("")


def test_training_counts_its_own_workers_as_its_own_work() -> None:
    """The governor training makes reads a running child's CPU time as the run's own: beside a meter that counts
    this process alone, over one window, its share of other processes' work is lower by the child's CPU time."""
    import subprocess
    import sys
    import time

    from handpose.autotune.contention import start_meter

    free_cores._GOVERNOR = None
    free_cores.govern_with_children()
    made = free_cores._GOVERNOR
    assert made is not None
    spin = ("import sys, time\nwhile time.process_time() < 0.5:\n    pass\nprint('spun', flush=True)\n"
            "sys.stdin.read()\n")
    t0 = time.perf_counter()
    plain, governed = start_meter(only=free_cores.usable_cores()), made._start()  # one window, two meters
    child = subprocess.Popen([sys.executable, "-c", spin], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "spun"
        others_plain, others_governed = plain(), governed()
        wall = time.perf_counter() - t0
    finally:
        child.communicate("")
    assert others_plain is not None and others_governed is not None
    assert others_plain - others_governed >= 0.8 * 0.5 / (wall * made.cores)  # the child's 0.5 s, as a share
